//! Container and pod location from `/proc/<pid>/cgroup` files of each runtime and layout
//! (`tests/data/cgroup/`), read through a stand-in proc root as the attestors read them.

use std::path::{Path, PathBuf};

use spiffe_attest::workload::cgroup::{self, CgroupError, ContainerLocation};

fn data(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cgroup")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A proc root holding `<pid>/cgroup` with `contents`.
fn proc_root(pid: i32, contents: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_dir = dir.path().join(pid.to_string());
    std::fs::create_dir(&pid_dir).expect("mkdir");
    std::fs::write(pid_dir.join("cgroup"), contents).expect("write");
    let root = dir.path().to_owned();
    (dir, root)
}

fn locate_file(name: &str) -> Result<Option<ContainerLocation>, CgroupError> {
    let (_dir, root) = proc_root(4242, data(name).as_bytes());
    cgroup::locate_process(&root, 4242)
}

fn loc(pod: Option<&str>, id: &str) -> Option<ContainerLocation> {
    Some(ContainerLocation {
        pod_uid: pod.map(str::to_owned),
        container_id: id.to_owned(),
    })
}

#[test]
fn containerd_cgroup_v1_cgroupfs_driver() {
    assert_eq!(
        locate_file("containerd_v1_cgroupfs.txt").expect("parses"),
        loc(
            Some("6bd2a4d3-a55a-4450-b6fd-2a7ecc72c904"),
            "a55d9ac3b312d8a2627824b6d6dd8af66fbec439bf4e0ec22d6d9945ad337a38"
        )
    );
}

#[test]
fn containerd_cgroup_v2_systemd_driver() {
    assert_eq!(
        locate_file("containerd_v2_systemd.txt").expect("parses"),
        loc(
            Some("0f4a6b5e-7c39-4d7b-9f0e-3b2a1c8d9e10"),
            "3f1c2a7d9e8b4c6a5d0f1e2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
        )
    );
}

#[test]
fn crio_cgroup_v1_and_v2_systemd_driver() {
    let want = loc(
        Some("2c48913c-b29f-11e7-9350-020968147796"),
        "45490e76e0878aaa4d9808f7d2eefba37f093c3efbba9838b6d8ab804d9bd814",
    );
    assert_eq!(locate_file("crio_v2_systemd.txt").expect("parses"), want);
    assert_eq!(locate_file("crio_v1_systemd.txt").expect("parses"), want);
}

#[test]
fn docker_without_kubernetes() {
    let want = loc(
        None,
        "93529524695bb00d91c1f6dba692ea8d3550c3b94fb2463af7bc9ec82f992d26",
    );
    assert_eq!(locate_file("docker_v1_cgroupfs.txt").expect("parses"), want);
    assert_eq!(locate_file("docker_v2_systemd.txt").expect("parses"), want);
}

#[test]
fn kind_node_inside_docker_names_the_inner_container() {
    assert_eq!(
        locate_file("kind_v1.txt").expect("parses"),
        loc(
            Some("a2830d0d-b0f0-4ff0-81b5-0ee4e299cf80"),
            "09bc3d7ade839efec32b6bec4ec79d099027a668ddba043083ec21d3c3b8f1e6"
        )
    );
}

#[test]
fn processes_outside_containers_locate_nothing() {
    assert_eq!(locate_file("host_v2_session.txt").expect("parses"), None);
    assert_eq!(locate_file("this_machine_v1.txt").expect("parses"), None);
    // This test process itself, from the real /proc.
    let me = i32::try_from(std::process::id()).expect("pid");
    cgroup::locate_process(Path::new("/proc"), me).expect("own cgroup file parses");
}

#[test]
fn conflicting_lines_are_refused() {
    assert!(matches!(
        locate_file("two_containers.txt"),
        Err(CgroupError::MultipleContainers { .. })
    ));
    let err = locate_file("two_pods.txt").expect_err("two pods");
    assert_eq!(
        err.to_string(),
        "multiple pod UIDs found in cgroups (11111111-b29f-11e7-9350-020968147796, \
         22222222-b29f-11e7-9350-020968147796)"
    );
}

#[test]
fn bad_files_are_errors() {
    let (_d, root) = proc_root(7, b"no colons here\n");
    assert_eq!(
        cgroup::locate_process(&root, 7),
        Err(CgroupError::Malformed { line: 1 })
    );
    let (_d, root) = proc_root(7, &[0xff, 0xfe, b':', b':', b'/']);
    assert_eq!(
        cgroup::locate_process(&root, 7),
        Err(CgroupError::Unreadable)
    );
    let big = "0::/\n".repeat(20_000);
    let (_d, root) = proc_root(7, big.as_bytes());
    assert_eq!(
        cgroup::locate_process(&root, 7),
        Err(CgroupError::Unreadable)
    );
    assert_eq!(
        cgroup::locate_process(&root, 8),
        Err(CgroupError::NoProcess { pid: 8 })
    );
    assert_eq!(
        cgroup::locate_process(&root, 0),
        Err(CgroupError::NoProcess { pid: 0 })
    );
}
