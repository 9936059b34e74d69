//! Where age identities come from (stub, being written).
