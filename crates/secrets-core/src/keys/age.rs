//! age recipients and the armored `enc` blocks (stub, being written).
