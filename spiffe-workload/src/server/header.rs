use tonic::metadata::MetadataMap;
use tonic::Status;

/// The security header every Workload API request carries (WEP-5).
pub(crate) const SECURITY_HEADER: &str = "workload.spiffe.io";

/// WEP-5/6: exactly one `workload.spiffe.io` value, exactly `true` (case-sensitive), else
/// INVALID_ARGUMENT.
pub(crate) fn check_security_header(metadata: &MetadataMap) -> Result<(), Status> {
    let mut values = metadata.get_all(SECURITY_HEADER).iter();
    match (values.next(), values.next()) {
        (Some(value), None) if value.as_bytes() == b"true" => Ok(()),
        _ => Err(Status::invalid_argument(
            "security header missing from request",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;

    fn with(values: &[&'static str]) -> MetadataMap {
        let mut map = MetadataMap::new();
        for v in values {
            map.append(SECURITY_HEADER, MetadataValue::from_static(v));
        }
        map
    }

    #[test]
    fn only_one_exact_true_passes() {
        assert!(check_security_header(&with(&["true"])).is_ok());
        for bad in [
            &[][..],
            &["True"],
            &["1"],
            &["yes"],
            &["true", "true"],
            &[""],
        ] {
            let status = check_security_header(&with(bad)).expect_err("rejected");
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{bad:?}");
        }
    }
}
