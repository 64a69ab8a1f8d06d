//! Fuzz target: decoding a kubelet `GET /pods` list into `k8s` selectors
//! (`spiffe_attest::workload::k8s::selectors_from_pod_list`) on arbitrary bytes, for a caller
//! with and without a known pod UID.
//!
//! None may panic. Every selector produced is of type `k8s`, and a match includes the
//! `pod-uid` selector of the pod the cgroups named.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiffe_attest::workload::cgroup::ContainerLocation;
use spiffe_attest::workload::k8s::selectors_from_pod_list;

fuzz_target!(|input: &[u8]| {
    let id = "a55d9ac3b312d8a2627824b6d6dd8af66fbec439bf4e0ec22d6d9945ad337a38".to_owned();
    for pod_uid in [Some("6bd2a4d3-a55a-4450-b6fd-2a7ecc72c904".to_owned()), None] {
        let location = ContainerLocation {
            pod_uid: pod_uid.clone(),
            container_id: id.clone(),
        };
        if let Ok(Some(selectors)) = selectors_from_pod_list(input, &location) {
            assert!(selectors.iter().all(|s| s.selector_type() == "k8s"));
            if let Some(uid) = pod_uid {
                let want = format!("pod-uid:{uid}");
                assert!(selectors.iter().any(|s| s.value() == want));
            }
        }
    }
});
