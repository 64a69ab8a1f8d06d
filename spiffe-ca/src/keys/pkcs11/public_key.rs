//! Reading a key pair's public half from the token and building its `SubjectPublicKeyInfo`.

use cryptoki::object::{Attribute, AttributeType, KeyType as P11KeyType, ObjectHandle};
use cryptoki::session::Session;

use super::{der, p11, unsupported};
use crate::keys::{KeyError, KeyType, PublicKey};

/// Reads a public key object and builds its SPKI.
pub(super) fn public_key(session: &Session, handle: ObjectHandle) -> Result<PublicKey, KeyError> {
    let attrs = session
        .get_attributes(handle, &[AttributeType::KeyType])
        .map_err(p11("C_GetAttributeValue"))?;
    let Some(Attribute::KeyType(kind)) = attrs.into_iter().next() else {
        return Err(unsupported("key type unreadable"));
    };
    if kind == P11KeyType::EC {
        let attrs = session
            .get_attributes(handle, &[AttributeType::EcParams, AttributeType::EcPoint])
            .map_err(p11("C_GetAttributeValue"))?;
        let (mut params, mut point) = (None, None);
        for attr in attrs {
            match attr {
                Attribute::EcParams(p) => params = Some(p),
                Attribute::EcPoint(p) => point = Some(p),
                _ => {}
            }
        }
        let (Some(params), Some(point)) = (params, point) else {
            return Err(unsupported("EC key without parameters or point"));
        };
        let (key_type, point_len) = match params.as_slice() {
            p if p == der::OID_P256 => (KeyType::EcP256, 65),
            p if p == der::OID_P384 => (KeyType::EcP384, 97),
            _ => return Err(unsupported("EC curve not P-256 or P-384")),
        };
        // CKA_EC_POINT is a DER OCTET STRING around the point; a few modules give it bare.
        let point = match der::octet_string(&point) {
            Some(inner) if inner.len() == point_len => inner,
            _ if point.len() == point_len => &point[..],
            _ => return Err(KeyError::MalformedKey { key_type }),
        };
        if point.first() != Some(&0x04) {
            return Err(KeyError::MalformedKey { key_type });
        }
        Ok(PublicKey::new(
            key_type,
            der::ec_spki(curve_oid(key_type), point),
        ))
    } else if kind == P11KeyType::RSA {
        let attrs = session
            .get_attributes(
                handle,
                &[AttributeType::Modulus, AttributeType::PublicExponent],
            )
            .map_err(p11("C_GetAttributeValue"))?;
        let (mut modulus, mut exponent) = (None, None);
        for attr in attrs {
            match attr {
                Attribute::Modulus(m) => modulus = Some(m),
                Attribute::PublicExponent(e) => exponent = Some(e),
                _ => {}
            }
        }
        let (Some(modulus), Some(exponent)) = (modulus, exponent) else {
            return Err(unsupported("RSA key without modulus or exponent"));
        };
        let significant = modulus.iter().skip_while(|&&b| b == 0).count();
        let key_type = match significant {
            256 => KeyType::Rsa2048,
            512 => KeyType::Rsa4096,
            _ => return Err(unsupported("RSA modulus not 2048 or 4096 bits")),
        };
        Ok(PublicKey::new(key_type, der::rsa_spki(&modulus, &exponent)))
    } else {
        Err(unsupported("key type not EC or RSA"))
    }
}

pub(super) fn curve_oid(key_type: KeyType) -> &'static [u8] {
    if key_type == KeyType::EcP384 {
        der::OID_P384
    } else {
        der::OID_P256
    }
}
