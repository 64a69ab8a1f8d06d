/// Which fields of a registration entry an update replaces (SPIRE's `EntryMask`, the
/// `input_mask` of `BatchUpdateEntry`). Fields not selected keep their stored value. The id,
/// `revision_number` and `created_at` are never replaced by an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EntryMask {
    /// `spiffe_id`.
    pub spiffe_id: bool,
    /// `parent_id`.
    pub parent_id: bool,
    /// `selectors`.
    pub selectors: bool,
    /// `x509_svid_ttl`.
    pub x509_svid_ttl: bool,
    /// `federates_with`.
    pub federates_with: bool,
    /// `admin`.
    pub admin: bool,
    /// `downstream`.
    pub downstream: bool,
    /// `expires_at`.
    pub expires_at: bool,
    /// `dns_names`.
    pub dns_names: bool,
    /// `store_svid`.
    pub store_svid: bool,
    /// `jwt_svid_ttl`.
    pub jwt_svid_ttl: bool,
    /// `hint`.
    pub hint: bool,
    /// `additional_attributes`: both of its flags (`disable_x509_svid_prefetch`,
    /// `jwt_svid_include_jti`) together, as SPIRE replaces the message whole.
    pub additional_attributes: bool,
}

impl EntryMask {
    /// Every updatable field (SPIRE's behaviour when no `input_mask` is given).
    pub fn all() -> Self {
        Self {
            spiffe_id: true,
            parent_id: true,
            selectors: true,
            x509_svid_ttl: true,
            federates_with: true,
            admin: true,
            downstream: true,
            expires_at: true,
            dns_names: true,
            store_svid: true,
            jwt_svid_ttl: true,
            hint: true,
            additional_attributes: true,
        }
    }

    /// No field.
    pub fn none() -> Self {
        Self::default()
    }
}
