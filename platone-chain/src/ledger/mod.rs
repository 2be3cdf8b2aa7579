//! [`EthereumLedger`]: batch certificates anchored on chain, many batches per transaction.
//!
//! Certificates are first made durable in a local [`FileLedger`] (which keeps the trait's
//! chaining and idempotence rules and serves `get` and `list`); each is then *pending* until
//! an aggregate anchor covering it is confirmed on chain. An aggregate anchor is one
//! `CertificationAnchor.anchor(root, batches)` transaction whose root is the OpenZeppelin
//! `StandardMerkleTree`-compatible keccak tree over the certificate hashes of every batch
//! queued since the last anchor, so one transaction certifies thousands of batches and any
//! contract can check one with `verifyBatch`.
//!
//! Every step is journalled (`anchors.jsonl`, fsync'd) before it is acted on: a restart, of
//! this process or of the node, finds the anchor in flight, looks for it on chain (by its
//! `Anchored` event) and either confirms it or sends it again — never losing a batch, never
//! anchoring one twice. Only one aggregate is in flight at a time, so the nonce the node
//! reports as pending is always the right one.

mod journal;

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use alloy::primitives::{B256, FixedBytes};
use platone_certify::ledger::ConsistencyReport;
use platone_certify::{
    Anchor, AnchorStatus, BatchCertificate, BoxFuture, CertifyError, ChainAnchor, Digest,
    FileLedger, Ledger, LedgerEntry, MerkleTree, Scheme,
};

use crate::client::ChainClient;
use crate::contracts::CertificationAnchor;
use crate::deployment::Deployment;
use crate::error::{ChainError, Result};

use journal::Journal;
pub use journal::{AggregateRecord, AnchoredBatch};

/// How many aggregate trees a ledger keeps for the paths it is asked for: the batches being
/// recorded and served are those of the latest anchors.
const CACHED_TREES: usize = 16;

/// Settings of an [`EthereumLedger`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerOptions {
    /// The most batches one aggregate anchor covers.
    pub max_batches_per_anchor: usize,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            max_batches_per_anchor: 65_536,
        }
    }
}

/// What one [`EthereumLedger::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// Nothing queued, nothing in flight.
    Idle,
    /// A new aggregate anchor was sent, covering this many batches.
    Submitted(usize),
    /// The anchor in flight is not mined yet, or not deep enough.
    Waiting,
    /// The anchor in flight was lost by the node and was sent again.
    Resubmitted,
    /// The anchor in flight is confirmed at this position.
    Confirmed(u64),
}

#[derive(Debug, Default)]
struct State {
    aggregates: Vec<AggregateRecord>,
    /// batch id → (aggregate index, leaf index).
    by_batch: HashMap<String, (usize, usize)>,
    queued: Vec<AnchoredBatch>,
    queued_ids: HashSet<String>,
    /// The trees of the latest confirmed aggregates asked for a path (at most
    /// [`CACHED_TREES`]; an older one is built again when asked).
    trees: HashMap<usize, Arc<MerkleTree>>,
}

impl State {
    fn add_aggregate(&mut self, record: AggregateRecord) {
        let index = self.aggregates.len();
        for (leaf, batch) in record.batches.iter().enumerate() {
            self.by_batch.insert(batch.batch_id.clone(), (index, leaf));
        }
        self.aggregates.push(record);
    }

    fn in_flight(&self) -> Option<&AggregateRecord> {
        self.aggregates.last().filter(|a| !a.is_confirmed())
    }

    fn queue(&mut self, batch_id: &str, certificate_hash: Digest) {
        if !self.by_batch.contains_key(batch_id) && self.queued_ids.insert(batch_id.to_owned()) {
            self.queued.push(AnchoredBatch {
                batch_id: batch_id.to_owned(),
                certificate_hash,
            });
        }
    }

    /// The aggregate (its index) and the leaf of a batch whose anchor is confirmed.
    fn confirmed(&self, batch_id: &str) -> Option<(usize, usize)> {
        let &(aggregate, leaf) = self.by_batch.get(batch_id)?;
        let record = self.aggregates.get(aggregate)?;
        record.is_confirmed().then_some((aggregate, leaf))
    }

    /// Where a confirmed batch is anchored, with its path and certificate (whose hash is
    /// `certificate_hash`).
    fn chain_anchor(
        &mut self,
        chain_id: u64,
        contract: &str,
        certificate: &BatchCertificate,
        certificate_hash: Digest,
    ) -> Result<Option<Anchor>> {
        let Some((aggregate, leaf)) = self.confirmed(&certificate.batch_id) else {
            return Ok(None);
        };
        let record = &self.aggregates[aggregate];
        let (Some(position), Some(transaction), Some(block), Some(time)) = (
            record.position,
            record.anchored_by,
            record.block,
            record.time,
        ) else {
            return Ok(None);
        };
        if record.batches.get(leaf).map(|b| b.certificate_hash) != Some(certificate_hash) {
            return Err(ChainError::Certify(CertifyError::Batch {
                batch_id: certificate.batch_id.clone(),
                message: "the certificate differs from the one anchored".into(),
            }));
        }
        let tree = match self.trees.get(&aggregate) {
            Some(tree) => Arc::clone(tree),
            None => {
                let tree = Arc::new(aggregate_tree(&record.batches)?);
                if self.trees.len() >= CACHED_TREES
                    && let Some(&oldest) = self.trees.keys().min()
                {
                    self.trees.remove(&oldest);
                }
                self.trees.insert(aggregate, Arc::clone(&tree));
                tree
            }
        };
        let transaction = Digest(transaction.0);
        let chain = ChainAnchor {
            chain_id,
            contract: contract.to_owned(),
            root: record.root,
            certificate_hash,
            path: tree.path(leaf)?,
            transaction,
            block,
            certificate: certificate.clone(),
        };
        Ok(Some(Anchor {
            ledger: chain.ledger_name(),
            entry: transaction.to_string(),
            position,
            time,
            chain: Some(Box::new(chain)),
        }))
    }
}

/// A [`Ledger`] on an Ethereum chain (see the [module docs](self)).
pub struct EthereumLedger {
    client: ChainClient,
    deployment: Deployment,
    local: FileLedger,
    journal: Mutex<Journal>,
    state: Mutex<State>,
    /// Held by each [`step`](EthereumLedger::step): steps run one at a time, whoever calls
    /// them (the background loop and a `flush`), so one aggregate is in flight at most.
    stepping: tokio::sync::Mutex<()>,
    options: LedgerOptions,
    name: String,
    /// The `CertificationAnchor` address as the anchors name it (EIP-55).
    contract: String,
    dir: PathBuf,
}

impl std::fmt::Debug for EthereumLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthereumLedger")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .finish()
    }
}

impl EthereumLedger {
    /// The local file ledger's subdirectory.
    pub const CERTIFICATES_DIR: &'static str = "certificates";
    /// The anchor journal's file name.
    pub const JOURNAL: &'static str = "anchors.jsonl";

    /// Opens the ledger kept in `dir` (created if needed) for `deployment`, anchoring with
    /// `client`'s key. Batches certified earlier but not yet covered by an anchor are queued
    /// again; an anchor left in flight is followed up by the next [`step`](Self::step).
    pub async fn open(
        dir: impl AsRef<Path>,
        client: ChainClient,
        deployment: Deployment,
        options: LedgerOptions,
    ) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        client.require_sender("anchoring")?;
        deployment.check(&client).await?;
        std::fs::create_dir_all(&dir).map_err(|e| ChainError::io(&dir, e))?;
        let local = FileLedger::open(dir.join(Self::CERTIFICATES_DIR))?;
        let (journal, records) = Journal::open(&dir.join(Self::JOURNAL))?;
        let mut state = State::default();
        for record in records {
            state.add_aggregate(record);
        }
        for source in local.sources() {
            for entry in local.list(&source, 0..u64::MAX).await? {
                state.queue(&entry.certificate.batch_id, entry.certificate_hash);
            }
        }
        let contract = deployment.contracts.CertificationAnchor.to_string();
        let name = format!("eip155:{}:{contract}", deployment.chain_id);
        if !state.queued.is_empty() || state.in_flight().is_some() {
            tracing::info!(ledger = %name, queued = state.queued.len(), in_flight = state.in_flight().is_some(), "resuming anchoring");
        }
        Ok(EthereumLedger {
            client,
            deployment,
            local,
            journal: Mutex::new(journal),
            state: Mutex::new(state),
            stepping: tokio::sync::Mutex::new(()),
            options,
            name,
            contract,
            dir,
        })
    }

    /// The deployment.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The client.
    pub fn client(&self) -> &ChainClient {
        &self.client
    }

    /// How many batches wait for an anchor (queued or in flight).
    pub fn pending_batches(&self) -> usize {
        let state = self.lock();
        state.queued.len() + state.in_flight().map_or(0, |a| a.batches.len())
    }

    /// The aggregate anchors recorded so far, in order, the last possibly in flight.
    pub fn aggregates(&self) -> Vec<AggregateRecord> {
        self.lock().aggregates.clone()
    }

    /// Where batch `batch_id` is anchored on chain, with its path and certificate, once
    /// confirmed (what each proof of the batch carries in its `anchor`).
    pub async fn chain_anchor(&self, batch_id: &str) -> Result<Option<ChainAnchor>> {
        let Some(entry) = self.local.get(batch_id).await? else {
            return Ok(None);
        };
        Ok(self
            .anchor_of(&entry.certificate, entry.certificate_hash)?
            .and_then(|a| a.chain.map(|c| *c)))
    }

    /// Does one step of anchoring: follows the anchor in flight (confirming it, or sending it
    /// again if the node lost it), or sends a new one for what is queued. Errors leave
    /// everything as it was; call again later.
    pub async fn step(&self) -> Result<Progress> {
        let _one_at_a_time = self.stepping.lock().await;
        let in_flight = self.lock().in_flight().cloned();
        if let Some(record) = in_flight {
            return self.follow(record).await;
        }
        let batches: Vec<AnchoredBatch> = {
            let state = self.lock();
            state
                .queued
                .iter()
                .take(self.options.max_batches_per_anchor.max(1))
                .cloned()
                .collect()
        };
        if batches.is_empty() {
            return Ok(Progress::Idle);
        }
        let tree = aggregate_tree(&batches)?;
        let record = AggregateRecord {
            root: tree.root(),
            batches,
            from_block: self.client.latest_block().await?,
            transaction: None,
            position: None,
            anchored_by: None,
            block: None,
            time: None,
        };
        self.journal(&record)?;
        {
            let mut state = self.lock();
            let covered: HashSet<&str> =
                record.batches.iter().map(|b| b.batch_id.as_str()).collect();
            state
                .queued
                .retain(|b| !covered.contains(b.batch_id.as_str()));
            for batch in &record.batches {
                state.queued_ids.remove(&batch.batch_id);
            }
            state.add_aggregate(record.clone());
        }
        let count = record.batches.len();
        self.send(record).await?;
        Ok(Progress::Submitted(count))
    }

    /// Steps until nothing is queued or in flight, sleeping the poll interval between steps
    /// that wait; gives up with [`ChainError::Unavailable`] after `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let progress = match self.step().await {
                Ok(p) => p,
                Err(e) if e.is_retryable() && tokio::time::Instant::now() < deadline => {
                    tracing::warn!(ledger = %self.name, error = %e, "anchoring failed; retrying");
                    tokio::time::sleep(self.client.config().poll_interval()).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match progress {
                Progress::Idle => return Ok(()),
                Progress::Waiting | Progress::Resubmitted => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(ChainError::Unavailable {
                            rpc: self.client.config().rpc.clone(),
                            reason: format!(
                                "{} batch(es) not anchored within {timeout:?}",
                                self.pending_batches()
                            ),
                        });
                    }
                    tokio::time::sleep(self.client.config().poll_interval()).await;
                }
                _ => {}
            }
        }
    }

    /// Anchors in the background until `shutdown` completes: one [`step`](Self::step) per
    /// poll interval, errors logged and retried with a back-off of up to 30 s.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        let this = self;
        crate::client::poll_until(
            shutdown,
            self.client.config().poll_interval(),
            move || async move {
                this.step()
                    .await
                    .map(|p| matches!(p, Progress::Submitted(_) | Progress::Confirmed(_)))
                    .map_err(|e| (format!("ledger {}", this.name), e))
            },
        )
        .await;
    }

    async fn send(&self, mut record: AggregateRecord) -> Result<B256> {
        let contract = CertificationAnchor::new(
            self.deployment.contracts.CertificationAnchor,
            self.client.provider().clone(),
        );
        let batches = u32::try_from(record.batches.len())
            .map_err(|_| ChainError::Config("too many batches for one anchor".into()))?;
        let hash = self
            .client
            .send::<_, CertificationAnchor::CertificationAnchorErrors>(
                contract.anchor(FixedBytes(record.root.0), batches),
                "CertificationAnchor",
                "anchor",
            )
            .await?;
        record.transaction = Some(hash);
        self.journal(&record)?;
        self.replace(record);
        tracing::debug!(ledger = %self.name, transaction = %hash, batches, "anchor sent");
        Ok(hash)
    }

    async fn follow(&self, record: AggregateRecord) -> Result<Progress> {
        if let Some((position, transaction, block)) = self.find_on_chain(&record).await? {
            let confirmations = self.client.config().confirmations.max(1);
            if self.client.latest_block().await? + 1 < block + confirmations {
                return Ok(Progress::Waiting);
            }
            let time = self.client.block_time(block).await?;
            let time = i64::try_from(time)
                .ok()
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .ok_or_else(|| ChainError::Unexpected(format!("block {block} time {time}")))?
                .fixed_offset();
            let confirmed = AggregateRecord {
                position: Some(position),
                anchored_by: Some(transaction),
                block: Some(block),
                time: Some(time),
                ..record
            };
            self.journal(&confirmed)?;
            self.replace(confirmed);
            tracing::info!(ledger = %self.name, position, block, "anchor confirmed");
            return Ok(Progress::Confirmed(position));
        }
        match record.transaction {
            Some(hash) if self.client.knows_transaction(hash).await? => Ok(Progress::Waiting),
            _ => {
                if let Some(hash) = record.transaction {
                    tracing::warn!(ledger = %self.name, transaction = %hash, "the node lost the anchor transaction; sending it again");
                }
                self.send(record).await?;
                Ok(Progress::Resubmitted)
            }
        }
    }

    /// The `Anchored` event carrying `record.root`, if mined: (position, transaction, block).
    async fn find_on_chain(&self, record: &AggregateRecord) -> Result<Option<(u64, B256, u64)>> {
        let contract = CertificationAnchor::new(
            self.deployment.contracts.CertificationAnchor,
            self.client.provider().clone(),
        );
        let events = contract
            .Anchored_filter()
            .from_block(record.from_block)
            .query()
            .await
            .map_err(anchor_error(&self.client, "Anchored"))?;
        Ok(events.into_iter().find_map(|(event, log)| {
            (event.root.0 == record.root.0).then_some((
                event.position,
                log.transaction_hash?,
                log.block_number?,
            ))
        }))
    }

    fn journal(&self, record: &AggregateRecord) -> Result<()> {
        self.journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .record(record)
    }

    fn replace(&self, record: AggregateRecord) {
        let mut state = self.lock();
        if let Some(existing) = state
            .aggregates
            .iter_mut()
            .rev()
            .find(|a| a.root == record.root)
        {
            *existing = record;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The on-chain anchor of a batch the local ledger holds, once its aggregate is confirmed.
    fn anchor_of(
        &self,
        certificate: &BatchCertificate,
        certificate_hash: Digest,
    ) -> Result<Option<Anchor>> {
        self.lock().chain_anchor(
            self.deployment.chain_id,
            &self.contract,
            certificate,
            certificate_hash,
        )
    }

    /// A batch's status: anchored once its aggregate is confirmed, with the chain anchor.
    fn chain_status(
        &self,
        certificate: &BatchCertificate,
        certificate_hash: Digest,
    ) -> platone_certify::Result<AnchorStatus> {
        match self.anchor_of(certificate, certificate_hash) {
            Ok(Some(anchor)) => Ok(AnchorStatus::Anchored(anchor)),
            Ok(None) => Ok(AnchorStatus::Pending),
            Err(e) => Err(self.unavailable(e)),
        }
    }

    fn unavailable(&self, e: ChainError) -> CertifyError {
        match e {
            ChainError::Certify(c) => c,
            other if other.is_retryable() => CertifyError::Unavailable {
                engine: self.name.clone(),
                message: other.to_string(),
            },
            other => CertifyError::Batch {
                batch_id: String::new(),
                message: other.to_string(),
            },
        }
    }
}

/// Maps an error of a `CertificationAnchor` call to `function`.
fn anchor_error<'c>(
    client: &'c ChainClient,
    function: &'static str,
) -> impl FnOnce(alloy::contract::Error) -> ChainError + 'c {
    move |e| {
        client.contract_error::<CertificationAnchor::CertificationAnchorErrors>(
            e,
            "CertificationAnchor",
            function,
        )
    }
}

/// The aggregate tree over batches' certificate hashes (StandardMerkleTree leaves).
fn aggregate_tree(batches: &[AnchoredBatch]) -> Result<MerkleTree> {
    let leaves: Vec<Digest> = batches
        .iter()
        .map(|b| Scheme::keccak_leaf_of_content(b.certificate_hash))
        .collect();
    Ok(MerkleTree::new(Scheme::Keccak, &leaves)?)
}

impl Ledger for EthereumLedger {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn anchor<'a>(
        &'a self,
        certificate: &'a BatchCertificate,
    ) -> BoxFuture<'a, platone_certify::Result<AnchorStatus>> {
        Box::pin(async move {
            let mut statuses = self.anchor_all(std::slice::from_ref(certificate)).await?;
            statuses.pop().ok_or_else(|| CertifyError::Batch {
                batch_id: certificate.batch_id.clone(),
                message: "no status returned".into(),
            })
        })
    }

    fn anchor_all<'a>(
        &'a self,
        certificates: &'a [BatchCertificate],
    ) -> BoxFuture<'a, platone_certify::Result<Vec<AnchorStatus>>> {
        Box::pin(async move {
            self.local.anchor_all(certificates).await?;
            let hashes = certificates
                .iter()
                .map(BatchCertificate::hash)
                .collect::<platone_certify::Result<Vec<_>>>()?;
            {
                let mut state = self.lock();
                for (certificate, hash) in certificates.iter().zip(&hashes) {
                    state.queue(&certificate.batch_id, *hash);
                }
            }
            certificates
                .iter()
                .zip(hashes)
                .map(|(c, hash)| self.chain_status(c, hash))
                .collect()
        })
    }

    fn status<'a>(
        &'a self,
        batch_id: &'a str,
    ) -> BoxFuture<'a, platone_certify::Result<Option<AnchorStatus>>> {
        Box::pin(async move {
            match self.local.get(batch_id).await? {
                Some(entry) => self
                    .chain_status(&entry.certificate, entry.certificate_hash)
                    .map(Some),
                None => Ok(None),
            }
        })
    }

    fn get<'a>(
        &'a self,
        batch_id: &'a str,
    ) -> BoxFuture<'a, platone_certify::Result<Option<LedgerEntry>>> {
        Box::pin(async move {
            if self.lock().confirmed(batch_id).is_none() {
                return Ok(None);
            }
            self.local.get(batch_id).await
        })
    }

    fn list<'a>(
        &'a self,
        source: &'a str,
        sequences: Range<u64>,
    ) -> BoxFuture<'a, platone_certify::Result<Vec<LedgerEntry>>> {
        Box::pin(async move {
            let mut entries = self.local.list(source, sequences).await?;
            let state = self.lock();
            entries.retain(|e| state.confirmed(&e.certificate.batch_id).is_some());
            Ok(entries)
        })
    }

    fn sources(&self) -> BoxFuture<'_, platone_certify::Result<Vec<String>>> {
        Ledger::sources(&self.local)
    }

    fn last_certificate<'a>(
        &'a self,
        source: &'a str,
    ) -> BoxFuture<'a, platone_certify::Result<Option<BatchCertificate>>> {
        Ledger::last_certificate(&self.local, source)
    }

    /// Checks the local ledger, then that every confirmed aggregate's root is in the
    /// contract at its position (a node that cannot be reached is an error, not a problem).
    fn check_consistency(&self) -> BoxFuture<'_, platone_certify::Result<ConsistencyReport>> {
        Box::pin(async move {
            let mut report = self.local.check_consistency().await?;
            let contract = CertificationAnchor::new(
                self.deployment.contracts.CertificationAnchor,
                self.client.provider().clone(),
            );
            for record in self.aggregates() {
                let Some(position) = record.position else {
                    continue;
                };
                let at = contract
                    .anchorAt(position)
                    .call()
                    .await
                    .map_err(|e| self.unavailable(anchor_error(&self.client, "anchorAt")(e)))?;
                if at.root.0 != record.root.0 {
                    report
                        .problems
                        .push(platone_certify::ledger::LedgerProblem {
                            position,
                            offset: None,
                            message: format!(
                                "anchor {position} on chain has root {}, the journal records {}",
                                at.root, record.root
                            ),
                        });
                }
            }
            Ok(report)
        })
    }
}
