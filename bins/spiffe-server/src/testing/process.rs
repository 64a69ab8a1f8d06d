//! Starting `spiffe-server run` as a process for tests (filled in below).
