from services.common.migrations import run_env
from services.findings.crosschecks import models as crosschecks  # noqa: F401 - its tables
from services.findings.models import metadata

run_env(metadata)
