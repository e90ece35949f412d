from common import migrations_env
from payments.models import Base

migrations_env.run(Base.metadata)
