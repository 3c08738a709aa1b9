//! lb-core: what a connector decides (config, mounts, balancer, health, forwarding).
