"""`POST /dev/token`: the console's sign-in in development and tests only. Pick
a user id and a role, get a token signed like the identity provider's. Mounted
only when CALLASTAR_ENV is dev or test (create_app); in production this path is
a 404 and tokens come from the platform's identity provider."""

from typing import Annotated

from litestar import post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import Body
from pydantic import BaseModel, ConfigDict, Field

from common.http import Role, is_safe_id
from gateway.auth import issue_token
from gateway.settings import Settings

TOKEN_TTL_S = 8 * 3600  # a working day


class DevSignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(description="the token's sub", examples=["creator-1"])
    role: Role


class DevToken(BaseModel):
    token: str
    user_id: str
    role: Role
    expires_in_s: int


@post("/dev/token", status_code=201, include_in_schema=False,  # a dev tool, not the public contract
      summary="Development and tests only: a token for any user id and role (absent in production)")
async def mint_dev_token(data: Annotated[DevSignIn, Body()], settings: NamedDependency[Settings]) -> DevToken:
    if not is_safe_id(data.user_id):
        raise ValidationException("user_id must be 1-128 letters, digits or _.:- (starting with a letter or digit)",
                                  extra=[{"key": "user_id", "message": "not a valid user id"}])
    token = issue_token(data.user_id, data.role, settings.jwt_secret, ttl_s=TOKEN_TTL_S)
    return DevToken(token=token, user_id=data.user_id, role=data.role, expires_in_s=TOKEN_TTL_S)
