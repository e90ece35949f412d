from common import migrations_env
from ledger.models import Base

migrations_env.run(Base.metadata)
