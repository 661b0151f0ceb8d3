"""Enums of data cross-checks (大数据比对): English codes, Chinese labels."""

from services.common.enums import LabeledEnum


class DatasetKind(LabeledEnum):
    """数据集类别：来自其他部门的数据"""

    loan_recipients = ("loan_recipients", "创业担保贷款（小额贷款）发放名单")
    subsidy_recipients = ("subsidy_recipients", "补贴发放名单（培训补贴等）")
    staff_roster = ("staff_roster", "财政供养人员（公职人员）名册")
    village_cadres = ("village_cadres", "村干部及其近亲属名单")
    deaths = ("deaths", "死亡人员名单")
    social_security = ("social_security", "社会保险缴费记录")
    vehicles = ("vehicles", "车辆登记信息")
    property = ("property", "不动产登记信息")
    other = ("other", "其他数据")


class Field(LabeledEnum):
    """数据集字段（导入时把文件的列对应到这些字段）"""

    id_number = ("id_number", "身份证号")
    person_name = ("name", "姓名")
    related_id = ("related_id", "关联人身份证号")
    org = ("org", "单位/村/经办机构")
    account = ("account", "银行账号")
    amount = ("amount", "金额（元）")
    date1 = ("date1", "日期（发放、死亡、入职、登记）")
    date2 = ("date2", "第二日期（到期、离职、期间止）")
    programme = ("programme", "项目")
    relation = ("relation", "关系")


class JobKind(LabeledEnum):
    """后台任务类别"""

    dataset_import = ("import", "数据集导入")
    run = ("run", "比对运行")


class JobState(LabeledEnum):
    """后台任务状态"""

    queued = ("queued", "排队中")
    running = ("running", "运行中")
    done = ("done", "已完成")
    failed = ("failed", "失败")


class HitStatus(LabeledEnum):
    """比对疑点状态"""

    open = ("open", "待核查")
    confirmed = ("confirmed", "已确认（已登记问题）")
    dismissed = ("dismissed", "已排除")
