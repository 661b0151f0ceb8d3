"""The default content checklist (巡察内容), the seed's "3+7", inserted when missing.

Chibi's special inspection of poverty-alleviation work focused on 3 common problems of every
political inspection and 7 problems specific to poverty work. The article names three of the
seven (扶贫政策措施执行走样, 专项扶贫资金管理不规范, 扶贫工作不严不实); the other four follow
what its "backtrace" paragraph says was checked: the townships' responsibility for the poverty
campaign (落实脱贫攻坚责任), the village work teams' help (驻村帮扶) and their units' pairing
duty (结对帮扶), the departments' approval, acceptance and supervision of projects and funds
(项目、资金管理的审批、验收、监管), and the supervision of village collective funds, assets and
resources (“三资”监管).

`ensure_default_template` is idempotent and safe under concurrency (ON CONFLICT DO NOTHING on the
unique name and on the unique (template, code)); the endpoints that need the default call it, and
the app may call it at startup too.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.rounds.enums import CategoryKind
from services.rounds.models import ChecklistCategory, ChecklistTemplate

DEFAULT_TEMPLATE_NAME = "扶贫领域专项巡察内容（3+7）"


class SeedCategory(NamedTuple):
    code: str
    name: str
    kind: CategoryKind


DEFAULT_CATEGORIES: tuple[SeedCategory, ...] = (
    SeedCategory("C1", "党的领导弱化", CategoryKind.common),
    SeedCategory("C2", "党的建设缺失", CategoryKind.common),
    SeedCategory("C3", "全面从严治党不力", CategoryKind.common),
    SeedCategory("S1", "扶贫政策措施执行走样", CategoryKind.specific),
    SeedCategory("S2", "专项扶贫资金管理不规范", CategoryKind.specific),
    SeedCategory("S3", "扶贫工作不严不实", CategoryKind.specific),
    SeedCategory("S4", "脱贫攻坚责任不落实", CategoryKind.specific),
    SeedCategory("S5", "驻村帮扶和结对帮扶不力", CategoryKind.specific),
    SeedCategory("S6", "扶贫项目资金审批验收监管不严", CategoryKind.specific),
    SeedCategory("S7", "村级“三资”监管责任不落实", CategoryKind.specific),
)


async def ensure_default_template(session: AsyncSession) -> uuid.UUID:
    """Returns the default template's id, creating it and its categories if missing."""
    found = await session.scalar(
        select(ChecklistTemplate.id).where(ChecklistTemplate.is_default.is_(True)).limit(1)
    )
    if found is not None:
        return found
    await session.execute(
        insert(ChecklistTemplate)
        .values(name=DEFAULT_TEMPLATE_NAME, is_default=True)
        .on_conflict_do_nothing(index_elements=[ChecklistTemplate.name])
    )
    template_id = await session.scalar(
        select(ChecklistTemplate.id).where(ChecklistTemplate.name == DEFAULT_TEMPLATE_NAME)
    )
    assert template_id is not None, "inserted or already present"
    await session.execute(
        insert(ChecklistCategory)
        .values(
            [
                {
                    "template_id": template_id,
                    "code": c.code,
                    "name": c.name,
                    "kind": c.kind.value,
                    "position": i,
                }
                for i, c in enumerate(DEFAULT_CATEGORIES, start=1)
            ]
        )
        .on_conflict_do_nothing(constraint="uq_checklist_categories_template_id_round_id_code")
    )
    return template_id
