//! Shamir secret sharing over GF(2^8), compatible with sops (stub, being written).
