from gateway.db import metadata
from gateway.hub import models as hub_models  # noqa: F401  (registers the tables on the metadata)
from gateway.identity import models  # noqa: F401
from services.common.migrations import run_env

run_env(metadata)
