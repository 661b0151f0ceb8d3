from services.common.errors import Forbidden, NotFound


class CommentNotFound(NotFound):
    title_en = "Comment not found"
    title_zh = "评论不存在"


class NotACommenter(Forbidden):
    title_en = "Only the finding's group, the office and experts consulted on it may comment"
    title_zh = "仅本组成员、巡察办及受邀会商的专家可以评论"


class NotCommentAuthor(Forbidden):
    title_en = "Only its author may change a comment; only its author or the office delete it"
    title_zh = "仅评论人可以修改评论；仅评论人或巡察办可以删除评论"
