//! Fuzz target: `/proc/<pid>/cgroup` parsing and container location
//! (`spiffe_attest::workload::cgroup`) on arbitrary UTF-8.
//!
//! None may panic. A located container ID is 64 hex digits that the input contains; a pod UID
//! is 36 bytes of hex digits and `-` in the 8-4-4-4-12 layout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiffe_attest::workload::cgroup;

fuzz_target!(|input: &str| {
    if let Ok(lines) = cgroup::parse_lines(input) {
        for line in &lines {
            assert!(line.hierarchy.bytes().all(|b| b.is_ascii_digit()));
            let _ = cgroup::locate_in_path(line.path);
        }
    }
    if let Ok(Some(found)) = cgroup::locate(input) {
        assert_eq!(found.container_id.len(), 64);
        assert!(found.container_id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(input.contains(&found.container_id));
        if let Some(uid) = &found.pod_uid {
            assert_eq!(uid.len(), 36);
            for (i, b) in uid.bytes().enumerate() {
                match i {
                    8 | 13 | 18 | 23 => assert_eq!(b, b'-'),
                    _ => assert!(b.is_ascii_hexdigit()),
                }
            }
        }
    }
});
