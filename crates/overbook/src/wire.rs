//! Requests and responses on the simulated network: one JSON document per
//! line over turmoil TCP, like a keep-alive HTTP connection carrying one
//! request at a time.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// Largest frame accepted; a longer line is a protocol error, not a hang.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// Why a frame could not be exchanged.
#[derive(Debug)]
pub enum WireError {
    /// The peer closed the connection (or it was reset by a crash).
    Closed,
    /// An I/O error from the simulated socket.
    Io(std::io::Error),
    /// The frame was not valid JSON for the expected type, or too long.
    Malformed(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Closed => f.write_str("connection closed"),
            WireError::Io(err) => write!(f, "i/o error: {err}"),
            WireError::Malformed(why) => write!(f, "malformed frame: {why}"),
        }
    }
}

impl std::error::Error for WireError {}

/// Writes one value as a JSON line.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    writer: &mut W,
    value: &T,
) -> Result<(), WireError> {
    let mut bytes =
        serde_json::to_vec(value).map_err(|err| WireError::Malformed(err.to_string()))?;
    bytes.push(b'\n');
    writer.write_all(&bytes).await.map_err(WireError::Io)?;
    writer.flush().await.map_err(WireError::Io)
}

/// Reads one JSON line.
pub async fn read_frame<R, T>(
    reader: &mut BufReader<R>,
    buffer: &mut Vec<u8>,
) -> Result<T, WireError>
where
    R: tokio::io::AsyncRead + Unpin,
    T: DeserializeOwned,
{
    buffer.clear();
    let read = reader
        .read_until(b'\n', buffer)
        .await
        .map_err(WireError::Io)?;
    if read == 0 {
        return Err(WireError::Closed);
    }
    if buffer.len() > MAX_FRAME_BYTES {
        return Err(WireError::Malformed(format!(
            "frame of {} bytes",
            buffer.len()
        )));
    }
    if buffer.last() != Some(&b'\n') {
        return Err(WireError::Closed);
    }
    serde_json::from_slice(&buffer[..buffer.len() - 1])
        .map_err(|err| WireError::Malformed(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// A request as a service declares one: nested, optional fields.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Request {
        request_id: u64,
        idempotency_key: Option<String>,
        body: Body,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Body {
        Reserve { authorization: u64, units: i64 },
    }

    #[test]
    fn frames_round_trip() {
        let request = Request {
            request_id: 7,
            idempotency_key: Some("c3-op1\nwith a newline".into()),
            body: Body::Reserve {
                authorization: 1,
                units: 10,
            },
        };
        let mut bytes: Vec<u8> = Vec::new();
        crate::store::block_on(write_frame(&mut bytes, &request)).unwrap();
        assert_eq!(bytes.last(), Some(&b'\n'));
        let mut reader = BufReader::new(&bytes[..]);
        let mut buffer = Vec::new();
        let back: Request = crate::store::block_on(read_frame(&mut reader, &mut buffer)).unwrap();
        assert_eq!(back, request);
        let again: Result<Request, _> =
            crate::store::block_on(read_frame(&mut reader, &mut buffer));
        assert!(matches!(again, Err(WireError::Closed)));
    }
}
