"""The API token (DDSS_API_TOKEN): a Bearer header on every data endpoint when the token is set (the app guards
its data routers with ``require_token`` then, and only then).

/health stays open (load balancers and `ddss up` poll it). The dashboard page, its static files and
the OpenAPI page carry no data, so a browser can load them without a header; the dashboard then sends
the token it was given (``/?token=…``, kept in localStorage) as a Bearer header on every data call.
"""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

# auto_error=False: a missing header is answered below with our own message.
_bearer = HTTPBearer(auto_error=False, description="The value of DDSS_API_TOKEN.")


class Refusal(BaseModel):
    detail: str


UNAUTHORIZED = {401: {"model": Refusal, "description": "No `Authorization: Bearer` header, or not the token."}}


def require_token(request: Request, credentials: HTTPAuthorizationCredentials | None = Security(_bearer)) -> None:
    expected: str = request.app.state.api_token
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this API needs a token: send 'Authorization: Bearer <DDSS_API_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # compare_digest: the time taken does not tell how much of a guess was right
    if not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "the token is not valid", headers={"WWW-Authenticate": "Bearer"}
        )
