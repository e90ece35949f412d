from common import migrations_env
from payouts.models import Base

migrations_env.run(Base.metadata)
