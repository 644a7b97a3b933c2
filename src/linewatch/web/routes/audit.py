"""The audit log: its current tree head (signed, when the service has a key), a check of the
whole log, and the inclusion proof of one entry (docs/audit.md)."""

from typing import Any

from fastapi import APIRouter

from linewatch.web.deps import AuditReader, Staff, State

router = APIRouter(tags=["audit"])


@router.get("/audit/head", summary="The audit log's current tree head")
def audit_head(p: AuditReader, state: State) -> dict[str, Any]:
    from linewatch.services.audit import AuditLog
    log = AuditLog(state.store())
    key = state.signing_key()
    return (log.signed_tree_head(key) if key is not None else log.tree_head()).to_dict()


@router.get("/audit/verify",
            summary="Check the whole log (and, with a key, every signature); names the first mismatch")
def audit_verify(p: AuditReader, state: State) -> dict[str, Any]:
    from linewatch.services.audit import AuditLog
    key = state.signing_key()
    res = AuditLog(state.store()).verify(key.public_key() if key is not None else None)
    return {"ok": res.ok, "first": str(res.first) if res.first else None,
            "entries": AuditLog(state.store()).size()}


@router.get("/audit/proof/{subject_id}",
            summary="An RFC 6962 inclusion proof of a record, allegation or verdict in the log")
def audit_proof(subject_id: str, p: Staff, state: State) -> dict[str, Any]:
    from linewatch.services.audit import AuditLog
    return AuditLog(state.store()).prove(subject_id).to_dict()
