from services.common.migrations import run_env
from services.findings.models import metadata

run_env(metadata)
