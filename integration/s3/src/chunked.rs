//! `aws-chunked` bodies: what `aws-sdk-s3` sends for a PutObject when it computes a
//! flexible checksum (`x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`,
//! `Content-Encoding: aws-chunked`, the checksum in a trailer). Each chunk is
//! `<hex size>[;extensions]\r\n<bytes>\r\n`; a zero-size chunk ends the data, then trailer
//! lines `name:value\r\n` and an empty line.
//!
//! Signed chunks (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD…`) carry a signature per chunk that
//! this server does not verify, so `ops` refuses them rather than accept unverified bytes.

/// The payload-hash marker of an unsigned aws-chunked body with trailers.
pub(crate) const UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// A decoded body and its trailers (lower-case names).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub(crate) body: Vec<u8>,
    pub(crate) trailers: Vec<(String, String)>,
}

/// Why a chunked body cannot be decoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// The framing is broken; the text says where.
    Malformed(String),
    /// The decoded body would pass `limit` bytes.
    TooLarge,
}

/// Splits `input` at the first CRLF: the line and the rest.
fn line(input: &[u8]) -> Result<(&[u8], &[u8]), ChunkError> {
    let at = input
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| ChunkError::Malformed("a chunk line has no CRLF".to_owned()))?;
    Ok((&input[..at], &input[at + 2..]))
}

/// Decodes `input`, refusing a body of more than `limit` bytes as soon as a chunk header says so.
pub(crate) fn decode(input: &[u8], limit: usize) -> Result<Decoded, ChunkError> {
    let mut body = Vec::new();
    let mut rest = input;
    loop {
        let (header, after) = line(rest)?;
        let size_text = header.split(|b| *b == b';').next().unwrap_or_default();
        let size_text = std::str::from_utf8(size_text)
            .ok()
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 16)
            .ok_or_else(|| ChunkError::Malformed("a chunk size is not hexadecimal".to_owned()))?;
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| ChunkError::Malformed(format!("chunk size {size_text:?} is not hexadecimal")))?;
        if size == 0 {
            rest = after;
            break;
        }
        let size = usize::try_from(size).map_err(|_| ChunkError::TooLarge)?;
        if body.len().saturating_add(size) > limit {
            return Err(ChunkError::TooLarge);
        }
        if after.len() < size + 2 || &after[size..size + 2] != b"\r\n" {
            return Err(ChunkError::Malformed(
                "a chunk is shorter than its size or lacks its CRLF".to_owned(),
            ));
        }
        body.extend_from_slice(&after[..size]);
        rest = &after[size + 2..];
    }
    let mut trailers = Vec::new();
    while !rest.is_empty() {
        let (text, after) = match line(rest) {
            Ok(split) => split,
            // The last trailer line may end the body without its CRLF.
            Err(_) => (rest, &b""[..]),
        };
        rest = after;
        if text.is_empty() {
            break;
        }
        let text = std::str::from_utf8(text)
            .map_err(|_| ChunkError::Malformed("a trailer is not UTF-8".to_owned()))?;
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| ChunkError::Malformed(format!("trailer {text:?} has no ':'")))?;
        trailers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    if rest.iter().any(|b| !b.is_ascii_whitespace()) {
        return Err(ChunkError::Malformed("bytes after the trailers".to_owned()));
    }
    Ok(Decoded { body, trailers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_and_trailers_are_decoded() {
        let input = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        let decoded = decode(input, 100).unwrap();
        assert_eq!(decoded.body, b"hello world");
        assert_eq!(decoded.trailers, [("x-amz-checksum-crc32".to_owned(), "DUoRhQ==".to_owned())]);
    }

    #[test]
    fn an_empty_body_and_chunk_extensions_are_fine() {
        assert_eq!(decode(b"0\r\n\r\n", 0).unwrap().body, b"");
        assert_eq!(decode(b"3;chunk-signature=ab\r\nabc\r\n0\r\n", 3).unwrap().body, b"abc");
    }

    #[test]
    fn broken_framing_and_oversize_bodies_are_refused() {
        assert!(matches!(decode(b"5\r\nhel\r\n0\r\n\r\n", 100), Err(ChunkError::Malformed(_))));
        assert!(matches!(decode(b"zz\r\n", 100), Err(ChunkError::Malformed(_))));
        assert!(matches!(decode(b"5\r\nhello", 100), Err(ChunkError::Malformed(_))));
        assert!(matches!(decode(b"ffffffffffffffffff\r\n", 100), Err(ChunkError::Malformed(_))));
        assert_eq!(decode(b"5\r\nhello\r\n0\r\n\r\n", 4), Err(ChunkError::TooLarge));
        assert_eq!(decode(b"fffffffffffffff\r\n", 4), Err(ChunkError::TooLarge));
    }
}
