//! Trust bundles: the SPIFFE bundle JSON document, the Bundle Map, and bundle sets.
