//! Statements prepared once per connection and reused.
//!
//! tokio-postgres prepares an unnamed statement for every `query(&str, ..)`:
//! one more round trip and a fresh parse and plan on the server each time,
//! which on the federation path was most of what PostgreSQL spent. The
//! crate has no statement cache of its own (deadpool-postgres has one, but
//! its pool needs async callers, which the store's synchronous traits are
//! not), so each pooled connection keeps one here, keyed by the SQL text.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Error, GenericClient, Row, Statement, Transaction};

/// Bound on statements kept per connection; the store issues a few dozen
/// distinct texts, so this is only a guard against unbounded growth.
const MAX_STATEMENTS: usize = 512;

pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A connection's prepared statements. Only ever used by the one caller
/// that holds the connection, and never borrowed across an await.
#[derive(Default)]
pub(crate) struct Statements(RefCell<HashMap<String, Statement>>);

impl Statements {
    fn get(&self, sql: &str) -> Option<Statement> {
        self.0.borrow().get(sql).cloned()
    }

    fn put(&self, sql: &str, statement: Statement) {
        let mut map = self.0.borrow_mut();
        if map.len() >= MAX_STATEMENTS {
            map.clear();
        }
        map.insert(sql.to_string(), statement);
    }
}

/// A connection or transaction whose statements are prepared once.
pub(crate) trait Db {
    type Inner: GenericClient + Sync;

    fn inner(&self) -> &Self::Inner;
    fn statements(&self) -> &Statements;

    fn prepare(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> {
        async move {
            if let Some(s) = self.statements().get(sql) {
                return Ok(s);
            }
            let s = self.inner().prepare(sql).await?;
            self.statements().put(sql, s.clone());
            Ok(s)
        }
    }

    fn query(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, Error>> {
        async move {
            let s = self.prepare(sql).await?;
            self.inner().query(&s, params).await
        }
    }

    fn query_one(&self, sql: &str, params: Params<'_>) -> impl Future<Output = Result<Row, Error>> {
        async move {
            let s = self.prepare(sql).await?;
            self.inner().query_one(&s, params).await
        }
    }

    fn query_opt(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Option<Row>, Error>> {
        async move {
            let s = self.prepare(sql).await?;
            self.inner().query_opt(&s, params).await
        }
    }

    fn execute(&self, sql: &str, params: Params<'_>) -> impl Future<Output = Result<u64, Error>> {
        async move {
            let s = self.prepare(sql).await?;
            self.inner().execute(&s, params).await
        }
    }

    /// Statements without parameters or results, sent as one simple query.
    fn batch_execute(&self, sql: &str) -> impl Future<Output = Result<(), Error>> {
        async move { self.inner().batch_execute(sql).await }
    }
}

/// A transaction on a pooled connection, sharing its statements.
pub(crate) struct Tx<'a> {
    tx: Transaction<'a>,
    statements: &'a Statements,
}

impl<'a> Tx<'a> {
    pub fn new(tx: Transaction<'a>, statements: &'a Statements) -> Self {
        Tx { tx, statements }
    }

    pub async fn commit(self) -> Result<(), Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), Error> {
        self.tx.rollback().await
    }

    pub async fn savepoint(&mut self, name: &str) -> Result<Tx<'_>, Error> {
        let statements = self.statements;
        Ok(Tx {
            tx: self.tx.savepoint(name).await?,
            statements,
        })
    }
}

impl<'a> Db for Tx<'a> {
    type Inner = Transaction<'a>;
    fn inner(&self) -> &Transaction<'a> {
        &self.tx
    }
    fn statements(&self) -> &Statements {
        self.statements
    }
}

/// A connection with its statements, as the pool keeps it.
pub(crate) struct Session {
    pub client: Client,
    pub statements: Statements,
}

impl Db for Session {
    type Inner = Client;
    fn inner(&self) -> &Client {
        &self.client
    }
    fn statements(&self) -> &Statements {
        &self.statements
    }
}

/// Runs `futures` (each a query on one connection) sending them in order:
/// every one is polled once, in turn, which sends its statements, and then
/// they are awaited in turn, as the server answers in order. Fails with
/// the first error.
pub(crate) async fn pipeline<F, T>(futures: Vec<F>) -> Result<Vec<T>, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    use std::task::Poll;
    let mut started: Vec<_> = futures.into_iter().map(|f| (Box::pin(f), None)).collect();
    let first = std::future::poll_fn(|cx| {
        for (f, out) in started.iter_mut() {
            if let Poll::Ready(r) = f.as_mut().poll(cx) {
                *out = Some(r);
            }
        }
        Poll::Ready(())
    });
    first.await;
    let mut results = Vec::with_capacity(started.len());
    for (f, out) in started {
        results.push(match out {
            Some(r) => r?,
            None => f.await?,
        });
    }
    Ok(results)
}
