//! Joint-operation Kit (联营Kit) request signing (spec §2.2, §4.3).
