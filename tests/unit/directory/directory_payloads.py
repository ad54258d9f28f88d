"""Realistic Graph and Dataverse answers, shaped like the documented and observed payloads.

Graph (v1.0): ``application`` with ``passwordCredentials`` / ``keyCredentials`` (hint, keyId,
seven-digit fractional seconds, hex and base64 ``customKeyIdentifier``), ``servicePrincipal``,
``user`` with ``assignedLicenses``, ``domain``, ``subscribedSku``; Dataverse Web API v9.2
``systemuser`` rows and role / team associations.
"""

from __future__ import annotations

import base64
from typing import Any

APP_ID = "5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d"
OBSERVER_ID = "9b0d7c2e-1f3a-4e5b-8c6d-7e8f9a0b1c2d"
CONFIGURED_SECRET = "AbC8Q~configured-secret-value-000000000"
OTHER_SECRET_HINT = "xYz"
CURRENT_KEY = "0d4f6a1e-1111-4a6b-9c8d-000000000001"
SUCCESSOR_KEY = "0d4f6a1e-2222-4a6b-9c8d-000000000002"
OLD_KEY = "0d4f6a1e-3333-4a6b-9c8d-000000000003"
CERT_KEY = "0d4f6a1e-4444-4a6b-9c8d-000000000004"
SIGNING_KEY = "0d4f6a1e-5555-4a6b-9c8d-000000000005"
THUMBPRINT = "52D3D8E7E5A1B2C3D4E5F60718293A4B5C6D7E8F"
SKU_SALES = "1e1a282c-9c54-43a2-9310-98ef728faace"
SKU_APPS = "b4d7b828-e8dc-4518-91f9-e123ae48440d"
USER_ID = "a1b2c3d4-0000-4000-8000-00000000000a"
SYSTEMUSER_ID = "c3d4e5f6-0000-4000-8000-00000000000c"
TEAM_ID = "d4e5f6a7-0000-4000-8000-00000000000d"
SYSTEM_ADMINISTRATOR_TEMPLATE = "627090FF-40A3-4053-8790-584EDC5BE201"


def application(
    *,
    passwords: list[dict[str, Any]] | None = None,
    keys: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """GET /applications(appId='...')?$select=id,appId,displayName,passwordCredentials,..."""
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#applications/$entity",
        "id": "7f3e2d1c-0000-4000-8000-000000000077",
        "appId": APP_ID,
        "displayName": "Sales sync",
        "passwordCredentials": passwords
        if passwords is not None
        else [
            secret(CURRENT_KEY, "sales-sync 2025", CONFIGURED_SECRET[:3], "2026-12-06T10:00:00Z"),
            secret(OLD_KEY, "sales-sync 2023", OTHER_SECRET_HINT, "2024-01-31T08:00:00Z"),
        ],
        "keyCredentials": keys if keys is not None else [],
    }


def secret(
    key_id: str,
    name: str | None,
    hint: str | None,
    end: str | None,
    start: str = "2025-06-01T10:00:00.1234567Z",
) -> dict[str, Any]:
    return {
        "customKeyIdentifier": None,
        "displayName": name,
        "endDateTime": end,
        "hint": hint,
        "keyId": key_id,
        "secretText": None,
        "startDateTime": start,
    }


def certificate(
    key_id: str,
    end: str,
    *,
    thumbprint: str = THUMBPRINT,
    base64_identifier: bool = False,
    usage: str = "Verify",
) -> dict[str, Any]:
    identifier = (
        base64.b64encode(bytes.fromhex(thumbprint)).decode() if base64_identifier else thumbprint
    )
    return {
        "customKeyIdentifier": identifier,
        "displayName": "CN=erp-connector",
        "endDateTime": end,
        "key": None,
        "keyId": key_id,
        "startDateTime": "2025-01-01T00:00:00Z",
        "type": "AsymmetricX509Cert",
        "usage": usage,
    }


def service_principal(*, enabled: bool = True) -> dict[str, Any]:
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals/$entity",
        "id": "8a4f3e2d-0000-4000-8000-000000000088",
        "appId": APP_ID,
        "displayName": "Sales sync",
        "accountEnabled": enabled,
        "passwordCredentials": [],
        "keyCredentials": [],
    }


def user(**overrides: Any) -> dict[str, Any]:
    """GET /users/{upn}?$select=... (a licensed, enabled cloud user)."""
    body: dict[str, Any] = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,...)/$entity",
        "id": USER_ID,
        "userPrincipalName": "svc-sync@contoso.com",
        "displayName": "Sync service",
        "accountEnabled": True,
        "userType": "Member",
        "lastPasswordChangeDateTime": "2026-09-01T07:30:12Z",
        "passwordPolicies": "None",
        "onPremisesSyncEnabled": None,
        "assignedLicenses": [{"disabledPlans": [], "skuId": SKU_SALES}],
    }
    body.update(overrides)
    return body


def domains_page(items: list[dict[str, Any]], next_link: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#domains",
        "value": items,
    }
    if next_link:
        page["@odata.nextLink"] = next_link
    return page


def domain(
    name: str, validity: int | None, *, default: bool = False, authentication: str = "Managed"
) -> dict[str, Any]:
    return {
        "id": name,
        "authenticationType": authentication,
        "isDefault": default,
        "passwordValidityPeriodInDays": validity,
        "passwordNotificationWindowInDays": 14 if validity is not None else None,
    }


def sku(
    sku_id: str,
    part: str,
    enabled: int,
    consumed: int,
    status: str = "Enabled",
    *,
    applies_to: str = "User",
    plans: tuple[str, ...] = ("DYN365_ENTERPRISE_SALES", "POWERAPPS_DYN_APPS", "FLOW_DYN_APPS"),
) -> dict[str, Any]:
    """GET /subscribedSkus item (servicePlans shortened to the Dataverse-relevant plans)."""
    return {
        "appliesTo": applies_to,
        "capabilityStatus": status,
        "consumedUnits": consumed,
        "skuId": sku_id,
        "skuPartNumber": part,
        "prepaidUnits": {"enabled": enabled, "lockedOut": 0, "suspended": 0, "warning": 0},
        "servicePlans": [
            {
                "servicePlanId": f"0000000{n}-0000-4000-8000-000000000000",
                "servicePlanName": name,
                "provisioningStatus": "Success",
                "appliesTo": applies_to,
            }
            for n, name in enumerate(plans)
        ],
    }


def organization(created: str | None = "2019-03-14T08:12:44Z") -> dict[str, Any]:
    """GET /organization?$select=id,createdDateTime."""
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#organization(id,createdDateTime)",
        "value": [{"id": "3f2c9a1e-5b7d-4c1a-9e2f-1a2b3c4d5e6f", "createdDateTime": created}],
    }


def systemuser_row(
    *,
    systemuser_id: str = SYSTEMUSER_ID,
    application_id: str | None = None,
    access_mode: int = 0,
    disabled: bool = False,
    licensed: bool = True,
) -> dict[str, Any]:
    return {
        "@odata.etag": 'W/"4711"',
        "systemuserid": systemuser_id,
        "fullname": "Sync service",
        "domainname": "svc-sync@contoso.com",
        "applicationid": application_id,
        "azureactivedirectoryobjectid": USER_ID,
        "accessmode": access_mode,
        "isdisabled": disabled,
        "islicensed": licensed,
    }


def collection(rows: list[dict[str, Any]], next_link: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {"@odata.context": "$metadata#systemusers", "value": rows}
    if next_link:
        page["@odata.nextLink"] = next_link
    return page


def role_row(name: str, role_id: str, template: str | None) -> dict[str, Any]:
    return {
        "@odata.etag": 'W/"1"',
        "name": name,
        "roleid": role_id,
        "_roletemplateid_value": template,
    }
