from gateway.db import metadata
from gateway.identity import models  # noqa: F401  (registers the tables on the metadata)
from services.common.migrations import run_env

run_env(metadata)
