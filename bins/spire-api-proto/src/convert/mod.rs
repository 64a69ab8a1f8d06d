//! Conversions between SPIRE's messages and the library types the daemons work with, both
//! ways, each failure naming the proto field at fault ([`ConvertError::field`]).
//!
//! | message | library type | functions |
//! |---|---|---|
//! | `types::Spiffeid` | [`SpiffeId`](spiffe_core::SpiffeId) | [`spiffe_id_from_proto`], [`spiffe_id_to_proto`] |
//! | `types::Selector` | [`Selector`](spiffe_attest::Selector) | [`selector_from_proto`], [`selector_to_proto`] |
//! | `types::Entry` | [`RegistrationEntry`](spiffe_attest::RegistrationEntry) | [`entry_from_proto`], [`entry_to_proto`] |
//! | `types::Bundle` | [`ApiBundle`] ([`SpiffeBundle`](spiffe_core::SpiffeBundle) + state) | [`bundle_from_proto`], [`bundle_to_proto`] |
//! | `types::X509Certificate` | [`Certificate`](spiffe_core::Certificate) | [`x509_authority_from_proto`], [`x509_authority_to_proto`] |
//! | `types::JwtKey` | [`JwtAuthority`](spiffe_core::JwtAuthority) + [`JwtAuthorityState`] | [`jwt_authority_from_proto`], [`jwt_authority_to_proto`] |
//! | `types::FederationRelationship` | [`FederationRelationship`] | [`federation_relationship_from_proto`], [`federation_relationship_to_proto`] |
//!
//! Reading a message checks what the library type guarantees (a valid SPIFFE ID, a parsed
//! certificate, a usable JWT key, an entry passing the builder's checks) and refuses what it
//! cannot hold rather than dropping it. Writing fails only for values SPIRE's fields cannot
//! carry (SPIRE's whole seconds in `int32`/`int64`, where 0 means unset).
//!
//! Errors name fields relative to the message converted; a caller converting a list places
//! them with [`ConvertError::within`]:
//!
//! ```
//! use spire_api_proto::convert::{entry_from_proto, FieldPath};
//! use spire_api_proto::types;
//!
//! let entries = vec![types::Entry { id: "web".into(), ..Default::default() }];
//! for (i, entry) in entries.iter().enumerate() {
//!     let error = entry_from_proto(entry)
//!         .unwrap_err()
//!         .within(FieldPath::new("entries").at(i));
//!     assert_eq!(error.to_string(), "entries[0].spiffe_id is required");
//! }
//! ```

mod bundle;
mod entry;
mod error;
mod federation;
mod id;
mod selector;
mod spki;
mod time;

pub use bundle::{
    bundle_from_proto, bundle_to_proto, jwt_authority_from_proto, jwt_authority_to_proto,
    x509_authority_from_proto, x509_authority_to_proto, ApiBundle, JwtAuthorityState,
};
pub use entry::{entry_from_proto, entry_to_proto};
pub use error::{ConvertError, FieldPath};
pub use federation::{
    federation_relationship_from_proto, federation_relationship_to_proto, BundleEndpointProfile,
    FederationRelationship,
};
pub use id::{spiffe_id_from_proto, spiffe_id_to_proto};
pub use selector::{selector_from_proto, selector_to_proto};
