#!/usr/bin/env bash
# t_audit_pg.sh - every scenario of t_audit.sh (checkpoints every 1,000 rows,
# the signed ceremony log and its tampering) with the ledger on a real
# PostgreSQL 15 (pg.sh).
MP_AUDIT_LEDGER=pg exec bash "$(dirname "$0")/t_audit.sh"
