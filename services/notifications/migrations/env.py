from common import migrations_env
from notifications.models import Base

migrations_env.run(Base.metadata)
