//! The narrow seam between the receiver and its object store, and the bounded concurrent write of a batch.

use std::future::Future;

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::delivery::StoredObject;

/// How many objects of one batch are written at once. A batch of up to 64 partitions is written in one round
/// trip's time; BENCHMARKS.md has the figures that chose it.
pub const MAX_CONCURRENT_WRITES: usize = 64;

/// A write that did not reach durable storage. The message is for logs only, never for the sender.
#[derive(Debug, thiserror::Error)]
#[error("could not store {key}: {cause}")]
pub struct StorageError {
    pub key: String,
    pub cause: String,
}

/// Somewhere objects can be written durably: S3 in production, a local S3-compatible server in tests.
pub trait ObjectStore: Send + Sync {
    /// Writes one object, overwriting any object with the same key. Succeeds only once it is durable.
    fn put(&self, object: StoredObject) -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// Writes every object, at most [`MAX_CONCURRENT_WRITES`] at a time; fails on the first failed write.
pub async fn store_all<S: ObjectStore>(store: &S, objects: Vec<StoredObject>) -> Result<(), StorageError> {
    stream::iter(objects)
        .map(|object| store.put(object))
        .buffer_unordered(MAX_CONCURRENT_WRITES)
        .try_collect::<()>()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Records keys and the highest number of writes seen in flight at once.
    #[derive(Default)]
    struct CountingStore {
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
        written: Mutex<Vec<String>>,
        fail_key: Option<String>,
    }

    impl ObjectStore for CountingStore {
        async fn put(&self, object: StoredObject) -> Result<(), StorageError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self.fail_key.as_deref() == Some(object.key.as_str()) {
                return Err(StorageError { key: object.key, cause: "refused".into() });
            }
            self.written.lock().expect("not poisoned").push(object.key);
            Ok(())
        }
    }

    fn objects(count: usize) -> Vec<StoredObject> {
        (0..count)
            .map(|n| StoredObject {
                key: format!("k{n}"),
                body: Default::default(),
                content_type: "x",
                metadata: vec![],
            })
            .collect()
    }

    #[tokio::test]
    async fn writes_every_object_concurrently_within_the_bound() {
        let store = CountingStore::default();
        store_all(&store, objects(150)).await.expect("all writes succeed");
        assert_eq!(store.written.lock().expect("not poisoned").len(), 150);
        let most = store.most_in_flight.load(Ordering::SeqCst);
        assert!(most > 1 && most <= MAX_CONCURRENT_WRITES, "most in flight: {most}");
    }

    #[tokio::test]
    async fn fails_when_any_write_fails() {
        let store = CountingStore { fail_key: Some("k7".into()), ..Default::default() };
        let error = store_all(&store, objects(20)).await.expect_err("one write fails");
        assert_eq!(error.key, "k7");
    }

    #[tokio::test]
    async fn succeeds_with_nothing_to_write() {
        store_all(&CountingStore::default(), Vec::new()).await.expect("nothing to do");
    }
}
