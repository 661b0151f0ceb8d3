from services.common.migrations import run_env
from services.rounds.models import metadata

run_env(metadata)
