package raftkit
import (
 _ "github.com/hashicorp/raft"
 _ "github.com/hashicorp/raft-boltdb/v2"
 _ "github.com/hashicorp/go-hclog"
 _ "github.com/hashicorp/go-metrics"
 _ "go.uber.org/goleak"
 _ "go.etcd.io/bbolt"
)
