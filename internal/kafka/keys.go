package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// keys is, for each API key, the highest version kmsg decodes and the
// first flexible one, as kmsg's requests say (TestKeysTable checks it
// against them). Written out rather than asked of kmsg when the process
// starts: that took about a millisecond of every kscope command's start,
// a request of each kind created and its code paged in.
var keys = [kmsg.MaxKey + 1]keyInfo{
	0:  {true, 13, 9},  // Produce
	1:  {true, 18, 12}, // Fetch
	2:  {true, 11, 6},  // ListOffsets
	3:  {true, 13, 9},  // Metadata
	4:  {true, 7, 4},   // LeaderAndISR
	5:  {true, 4, 2},   // StopReplica
	6:  {true, 8, 6},   // UpdateMetadata
	7:  {true, 3, 3},   // ControlledShutdown
	8:  {true, 10, 8},  // OffsetCommit
	9:  {true, 10, 6},  // OffsetFetch
	10: {true, 6, 3},   // FindCoordinator
	11: {true, 9, 6},   // JoinGroup
	12: {true, 4, 4},   // Heartbeat
	13: {true, 5, 4},   // LeaveGroup
	14: {true, 5, 4},   // SyncGroup
	15: {true, 6, 5},   // DescribeGroups
	16: {true, 5, 3},   // ListGroups
	17: {true, 1, -1},  // SASLHandshake
	18: {true, 5, 3},   // ApiVersions
	19: {true, 7, 5},   // CreateTopics
	20: {true, 6, 4},   // DeleteTopics
	21: {true, 2, 2},   // DeleteRecords
	22: {true, 5, 2},   // InitProducerID
	23: {true, 4, 4},   // OffsetForLeaderEpoch
	24: {true, 5, 3},   // AddPartitionsToTxn
	25: {true, 4, 3},   // AddOffsetsToTxn
	26: {true, 5, 3},   // EndTxn
	27: {true, 2, 1},   // WriteTxnMarkers
	28: {true, 6, 3},   // TxnOffsetCommit
	29: {true, 3, 2},   // DescribeACLs
	30: {true, 3, 2},   // CreateACLs
	31: {true, 3, 2},   // DeleteACLs
	32: {true, 4, 4},   // DescribeConfigs
	33: {true, 2, 2},   // AlterConfigs
	34: {true, 2, 2},   // AlterReplicaLogDirs
	35: {true, 5, 2},   // DescribeLogDirs
	36: {true, 2, 2},   // SASLAuthenticate
	37: {true, 3, 2},   // CreatePartitions
	38: {true, 3, 2},   // CreateDelegationToken
	39: {true, 2, 2},   // RenewDelegationToken
	40: {true, 2, 2},   // ExpireDelegationToken
	41: {true, 3, 2},   // DescribeDelegationToken
	42: {true, 3, 2},   // DeleteGroups
	43: {true, 2, 2},   // ElectLeaders
	44: {true, 1, 1},   // IncrementalAlterConfigs
	45: {true, 1, 0},   // AlterPartitionAssignments
	46: {true, 0, 0},   // ListPartitionReassignments
	47: {true, 0, -1},  // OffsetDelete
	48: {true, 1, 1},   // DescribeClientQuotas
	49: {true, 1, 1},   // AlterClientQuotas
	50: {true, 0, 0},   // DescribeUserSCRAMCredentials
	51: {true, 0, 0},   // AlterUserSCRAMCredentials
	52: {true, 2, 0},   // Vote
	53: {true, 1, 1},   // BeginQuorumEpoch
	54: {true, 1, 1},   // EndQuorumEpoch
	55: {true, 2, 0},   // DescribeQuorum
	56: {true, 3, 0},   // AlterPartition
	57: {true, 2, 0},   // UpdateFeatures
	58: {true, 0, 0},   // Envelope
	59: {true, 1, 0},   // FetchSnapshot
	60: {true, 2, 0},   // DescribeCluster
	61: {true, 0, 0},   // DescribeProducers
	62: {true, 4, 0},   // BrokerRegistration
	63: {true, 2, 0},   // BrokerHeartbeat
	64: {true, 0, 0},   // UnregisterBroker
	65: {true, 0, 0},   // DescribeTransactions
	66: {true, 2, 0},   // ListTransactions
	67: {true, 0, 0},   // AllocateProducerIDs
	68: {true, 1, 0},   // ConsumerGroupHeartbeat
	69: {true, 1, 0},   // ConsumerGroupDescribe
	70: {true, 0, 0},   // ControllerRegistration
	71: {true, 0, 0},   // GetTelemetrySubscriptions
	72: {true, 0, 0},   // PushTelemetry
	73: {true, 0, 0},   // AssignReplicasToDirs
	74: {true, 1, 0},   // ListConfigResources
	75: {true, 0, 0},   // DescribeTopicPartitions
	76: {true, 1, 0},   // ShareGroupHeartbeat
	77: {true, 1, 0},   // ShareGroupDescribe
	78: {true, 2, 0},   // ShareFetch
	79: {true, 2, 0},   // ShareAcknowledge
	80: {true, 1, 0},   // AddRaftVoter
	81: {true, 0, 0},   // RemoveRaftVoter
	82: {true, 0, 0},   // UpdateRaftVoter
	83: {true, 0, 0},   // InitializeShareGroupState
	84: {true, 0, 0},   // ReadShareGroupState
	85: {true, 1, 0},   // WriteShareGroupState
	86: {true, 0, 0},   // DeleteShareGroupState
	87: {true, 1, 0},   // ReadShareGroupStateSummary
	88: {true, 1, 0},   // StreamsGroupHeartbeat
	89: {true, 1, 0},   // StreamsGroupDescribe
	90: {true, 1, 0},   // DescribeShareGroupOffsets
	91: {true, 0, 0},   // AlterShareGroupOffsets
	92: {true, 0, 0},   // DeleteShareGroupOffsets
	93: {true, 0, 0},   // StreamsGroupTopologyDescriptionUpdate
	94: {true, 0, 0},   // UnregisterController
}
