//! Federation relationships: CRUD, with the relationship's bundle kept in the bundle store.

use spiffe_server::datastore::{
    BundleEndpointProfile, DataStore, DataStoreError, FederationMask, FederationRelationship,
    PageRequest, Record,
};

use crate::both_backends;
use crate::harness::{self, bundle, id, td, Backend};

both_backends!(relationship_operations);

async fn relationship_operations(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    let spiffe_profile = BundleEndpointProfile::HttpsSpiffe {
        endpoint_spiffe_id: id("/bundle-endpoint"),
    };
    let mut with_bundle =
        FederationRelationship::new(td("x.org"), "https://x.org/bundle", spiffe_profile.clone());
    with_bundle.trust_domain_bundle = Some(bundle("x.org"));
    let created = store
        .create_federation_relationship(with_bundle.clone())
        .await
        .expect("create");
    assert_eq!(created, with_bundle);
    assert_eq!(
        store.get_bundle(&td("x.org")).await.expect("get"),
        Some(bundle("x.org"))
    );
    let error = store
        .create_federation_relationship(with_bundle.clone())
        .await
        .expect_err("duplicate");
    assert!(matches!(
        error,
        DataStoreError::AlreadyExists {
            record: Record::FederationRelationship,
            ..
        }
    ));
    let web = FederationRelationship::new(
        td("a.org"),
        "https://a.org/b",
        BundleEndpointProfile::HttpsWeb,
    );
    assert_eq!(
        store
            .create_federation_relationship(web.clone())
            .await
            .expect("create"),
        web
    );
    let mut foreign = FederationRelationship::new(
        td("b.org"),
        "https://b.org",
        BundleEndpointProfile::HttpsWeb,
    );
    foreign.trust_domain_bundle = Some(bundle("c.org"));
    let error = store
        .create_federation_relationship(foreign)
        .await
        .expect_err("bundle of another trust domain");
    assert!(matches!(
        error,
        DataStoreError::InvalidArgument {
            field: "trust_domain_bundle",
            ..
        }
    ));
    assert_eq!(
        store
            .get_federation_relationship(&td("b.org"))
            .await
            .expect("get"),
        None
    );

    assert_eq!(
        store
            .get_federation_relationship(&td("x.org"))
            .await
            .expect("get"),
        Some(with_bundle.clone())
    );
    let page = store
        .list_federation_relationships(&PageRequest::first(1))
        .await
        .expect("list");
    assert_eq!(page.items.as_slice(), std::slice::from_ref(&web));
    let page = store
        .list_federation_relationships(&PageRequest::after(1, page.next.expect("token")))
        .await
        .expect("list");
    assert_eq!(page.items.as_slice(), std::slice::from_ref(&with_bundle));

    // Update the URL only; then the profile and the bundle.
    let mut change = FederationRelationship::new(
        td("x.org"),
        "https://x.org/v2",
        BundleEndpointProfile::HttpsWeb,
    );
    let mut mask = FederationMask::default();
    mask.bundle_endpoint_url = true;
    let updated = store
        .update_federation_relationship(change.clone(), mask)
        .await
        .expect("update");
    assert_eq!(updated.bundle_endpoint_url, "https://x.org/v2");
    assert_eq!(updated.profile, spiffe_profile);
    let mut new_bundle = bundle("x.org");
    new_bundle.sequence_number = 5;
    change.trust_domain_bundle = Some(new_bundle.clone());
    let updated = store
        .update_federation_relationship(change, FederationMask::all())
        .await
        .expect("update all");
    assert_eq!(updated.profile, BundleEndpointProfile::HttpsWeb);
    assert_eq!(updated.trust_domain_bundle, Some(new_bundle.clone()));
    let error = store
        .update_federation_relationship(
            FederationRelationship::new(
                td("zz.org"),
                "https://zz",
                BundleEndpointProfile::HttpsWeb,
            ),
            FederationMask::all(),
        )
        .await
        .expect_err("missing");
    assert!(matches!(error, DataStoreError::NotFound { .. }));

    store
        .delete_federation_relationship(&td("x.org"))
        .await
        .expect("delete");
    assert_eq!(
        store
            .get_federation_relationship(&td("x.org"))
            .await
            .expect("get"),
        None
    );
    assert!(matches!(
        store.delete_federation_relationship(&td("x.org")).await,
        Err(DataStoreError::NotFound { .. })
    ));
    // The bundle outlives the relationship.
    assert_eq!(
        store.get_bundle(&td("x.org")).await.expect("get"),
        Some(new_bundle)
    );
}
