#!/usr/bin/env bash
# t_lifecycle_pg.sh - every scenario of t_lifecycle.sh (PAI revocation, PAA
# and PAI CRLs, CRL numbers across a kill -9, the revocation set from the
# ledger, DCL changes) with the ledger on a real PostgreSQL 15 (pg.sh).
MP_LIFE_LEDGER=pg exec bash "$(dirname "$0")/t_lifecycle.sh"
