"""Names as rules compare them (姓名比对键): the usual variants of one name fold to one key.

NFKC turns full-width letters and digits into half-width ones; spaces and the dots between the
parts of a minority name (· • ・ .) are dropped; Latin letters are folded to lower case; and the
traditional form of the characters common in names becomes the simplified one. The table is
curated (about 557 characters seen in names: surnames and given-name characters), not a general
converter: a name is a few characters with no phrases to disambiguate, so a character table is
exact where it applies, and a full converter (OpenCC) would be a dependency for a rare case.
"""

from __future__ import annotations

import unicodedata

TRADITIONAL = (
    "陳張劉黃楊趙吳鄭許馮蔣韓龍葉蕭盧羅錢孫謝鄧蘇譚賈顧鐘鍾聶嚴閻湯龔萬鄒賀馬陸嶽閆鄺"
    "歐陽衛範紀樂連華國偉強軍紅麗劍輝傑東勝鳳嬌蘭貴義禮榮濤鵬飛剛廣雲寶慶興長紹鳴愛發"
    "學峯鋒銘鐵銀錦鋼鎮鏡釗鈞鋮鈺瑩瑋瓊璣環玨瑤蓮蕓薈葦蘆藝蔭薩蒼節築簡純紋綠維綺緣編"
    "繼續縣練絲經統給結絡網綱總纖軒輪軼輔運達遠遜選邁還邊進遊過適讓誠詩誼語說課談論謙"
    "謹識譽讚詠詞訓記設試話認證評調賢賓資財貞質贊贏寧實寬憲審寫壽鄉樹橋機權欄標楓樺櫻"
    "檢棟業極樓櫃煥燦熾燈爐營熱潔濱滿漢湧溫灣潤澤濟瀾漁濃灑淚滬漸溝測風颯飄頌順頤顏願"
    "類顯頂須領頻題額駿驊騰驥驍駒驕鴻鶯鵑鷹鶴鸞鵲鷗點黨齊齡龜倫傳億儀優償儲僑價倉們亞"
    "來佇俠兒兩內農凱劃則創劑勁動務勵勳勢區協卻厲參叢員問啟喬單嗎嘯嚮團圓圖園堅報場塊"
    "塵墻壓壯壺夢奪奮媽嫻嬋孌將專尋對導層屬崗嶺巖幣幫幹廳廟廠開異彌彎彥後徑從復徵憶應"
    "懷戀戰戶擁揚擇擊斂數斷時晉曉暉曄曆書會條槍歸歲殘氣滄漣燁爺牆狀獎獻現璽產畢畫當療"
    "盡監盤碩確禎禱種穎穩窮競筆紘紡紳細終組絢綜綿緒緯縱織罷羨習聖聞聯聰聲肅脅腦臨舉舊"
    "艷莊萊蒞藍藥蘊處號蟬補製襲覺親觀計討託訪詳誌誕請諸諾謀謠變豐豔貝負貢貨販貫責貸費"
    "賞賦賴購贈車軌軟載輕轉辦郵鄰醫釋針釣鈴鉅銅銳錄錫鍊鎖鎬鏈鑄鑒門閃閉閏閒間閣閩闊闖"
    "關陣陰險隨隱雙雞離難電靈靜韋韻響頁頓預頭頰飯飲餘館騎驗體髮鬥鬧魯鮑鮮鯨麥齒"
)
SIMPLIFIED = (
    "陈张刘黄杨赵吴郑许冯蒋韩龙叶萧卢罗钱孙谢邓苏谭贾顾钟钟聂严阎汤龚万邹贺马陆岳闫邝"
    "欧阳卫范纪乐连华国伟强军红丽剑辉杰东胜凤娇兰贵义礼荣涛鹏飞刚广云宝庆兴长绍鸣爱发"
    "学峰锋铭铁银锦钢镇镜钊钧铖钰莹玮琼玑环珏瑶莲芸荟苇芦艺荫萨苍节筑简纯纹绿维绮缘编"
    "继续县练丝经统给结络网纲总纤轩轮轶辅运达远逊选迈还边进游过适让诚诗谊语说课谈论谦"
    "谨识誉赞咏词训记设试话认证评调贤宾资财贞质赞赢宁实宽宪审写寿乡树桥机权栏标枫桦樱"
    "检栋业极楼柜焕灿炽灯炉营热洁滨满汉涌温湾润泽济澜渔浓洒泪沪渐沟测风飒飘颂顺颐颜愿"
    "类显顶须领频题额骏骅腾骥骁驹骄鸿莺鹃鹰鹤鸾鹊鸥点党齐龄龟伦传亿仪优偿储侨价仓们亚"
    "来伫侠儿两内农凯划则创剂劲动务励勋势区协却厉参丛员问启乔单吗啸向团圆图园坚报场块"
    "尘墙压壮壶梦夺奋妈娴婵娈将专寻对导层属岗岭岩币帮干厅庙厂开异弥弯彦后径从复征忆应"
    "怀恋战户拥扬择击敛数断时晋晓晖晔历书会条枪归岁残气沧涟烨爷墙状奖献现玺产毕画当疗"
    "尽监盘硕确祯祷种颖稳穷竞笔纮纺绅细终组绚综绵绪纬纵织罢羡习圣闻联聪声肃胁脑临举旧"
    "艳庄莱莅蓝药蕴处号蝉补制袭觉亲观计讨托访详志诞请诸诺谋谣变丰艳贝负贡货贩贯责贷费"
    "赏赋赖购赠车轨软载轻转办邮邻医释针钓铃钜铜锐录锡炼锁镐链铸鉴门闪闭闰闲间阁闽阔闯"
    "关阵阴险随隐双鸡离难电灵静韦韵响页顿预头颊饭饮余馆骑验体发斗闹鲁鲍鲜鲸麦齿"
)
DROPPED = " \t\u3000\u00b7\u2022\u30fb\uff65.\uff0e-"
_TABLE = str.maketrans(TRADITIONAL, SIMPLIFIED, DROPPED)


def name_key(name: str) -> str:
    """The key two spellings of one name share (张 三 / 張三 / ＺＨＡＮＧ → zhang)."""
    return unicodedata.normalize("NFKC", name).translate(_TABLE).lower()
