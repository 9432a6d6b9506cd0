"""The exceptions a provider raises, owned here so providers never import the gateway.

    ProviderError
    ├── LoginError                an interactive login or an import could not finish
    └── RefreshError              a token refresh did not produce a token
        ├── RefreshTokenRejected  invalid_grant / refresh_token_reused: permanent
        └── RefreshFailed         network or 5xx: try again later
    SettingsError                 a `gateway.<provider>:` block names an unknown key or a bad value

SettingsError is a ValueError; gateway/config.py's ConfigError derives from it, so a caller that
handles configuration errors handles both.
"""

from __future__ import annotations


class ProviderError(Exception):
    pass


class LoginError(ProviderError):
    pass


class RefreshError(ProviderError):
    pass


class RefreshTokenRejected(RefreshError):
    pass


class RefreshFailed(RefreshError):
    pass


class SettingsError(ValueError):
    pass
