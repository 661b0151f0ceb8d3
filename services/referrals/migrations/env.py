from services.common.migrations import run_env
from services.referrals.models import metadata

run_env(metadata)
