//! The replay store against a real Redis Sentinel and a real Redis Cluster (redis-server in
//! sentinel and cluster mode, on free ports in temp directories): a delivery is recorded
//! once and its copy answered `duplicate`, through the `redis` crate's own topology clients.

#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::net::*;
use crate::redis_server::RedisServer;
use crate::replay::{assert_duplicate, config, deliver};

/// A redis-server process started with `args`, killed when dropped.
struct Node {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(args: &[&str], conf: Option<&str>) -> Node {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("redis-server");
        if let Some(conf) = conf {
            let path = dir.path().join("node.conf");
            let text = conf.replace("{port}", &port.to_string());
            std::fs::write(&path, text).unwrap();
            cmd.arg(&path);
        }
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--protected-mode", "no", "--save", "", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("redis-server (.ci/run installs it)");
        let node = Node {
            port,
            child,
            _dir: dir,
        };
        node.wait_for("PING", "PONG");
        node
    }

    /// Runs `redis-cli` against this node and returns its output.
    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, command: &str, wanted: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let args: Vec<&str> = command.split(' ').collect();
        while !self.cli(&args).contains(wanted) {
            assert!(Instant::now() < deadline, "{command}: never {wanted}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Delivers three ids twice each: the first copy forwarded, the second a duplicate.
async fn each_delivery_once(proxy: &Proxy, up: &Upstream) {
    for id in ["d-1", "d-2", "d-3"] {
        assert_eq!(deliver(proxy, id, "{}").await.0, StatusCode::OK, "{id}");
        assert_duplicate(&deliver(proxy, id, "{}").await);
    }
    assert_eq!(up.count(), 3);
}

#[tokio::test]
async fn a_sentinel_store_records_on_the_master_the_sentinel_names() {
    let master = RedisServer::start();
    let conf = format!(
        "sentinel monitor mymaster 127.0.0.1 {} 1\nsentinel resolve-hostnames no\n",
        master.port
    );
    let sentinel = Node::start(&["--sentinel"], Some(&conf));
    sentinel.wait_for(
        "SENTINEL get-master-addr-by-name mymaster",
        &master.port.to_string(),
    );
    let up = Upstream::start().await;
    let store = format!("redis+sentinel://127.0.0.1:{}/mymaster/0", sentinel.port);
    let proxy = Proxy::start(&config(&up.url(), &store, ""), &[]).await;
    each_delivery_once(&proxy, &up).await;
    // The keys are on the master the sentinel named.
    assert_eq!(master.command("DBSIZE").as_deref(), Some(":3"));
}

#[tokio::test]
async fn a_cluster_store_records_each_key_on_the_node_that_owns_its_slot() {
    let args = ["--cluster-enabled", "yes", "--appendonly", "no"];
    let nodes: Vec<Node> = (0..3).map(|_| Node::start(&args, None)).collect();
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let mut create = vec!["--cluster", "create"];
    create.extend(addrs.iter().map(String::as_str));
    create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
    nodes[0].cli(&create);
    for node in &nodes {
        node.wait_for("CLUSTER INFO", "cluster_state:ok");
    }
    let up = Upstream::start().await;
    // Two seeds; the client finds the third node from them.
    let store = format!("redis+cluster://{},{}", addrs[0], addrs[1]);
    let proxy = Proxy::start(&config(&up.url(), &store, ""), &[]).await;
    each_delivery_once(&proxy, &up).await;
    let keys: usize = nodes
        .iter()
        .map(|n| n.cli(&["DBSIZE"]).trim().parse::<usize>().unwrap())
        .sum();
    assert_eq!(keys, 3, "one key per delivery across the cluster");
}
