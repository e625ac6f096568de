package broker

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafka3Mins are the minimum versions a Kafka 3.x broker advertises where
// kfake, modelling Kafka 4.0 (KIP-896 removed the old versions), advertises
// higher ones. librdkafka derives its features from the advertised ranges:
// with Produce min 3 it finds no range for "Produce v0" and silently sends
// gzip/snappy/lz4 batches uncompressed, and with SaslHandshake min 1 it finds
// no "SaslHandshake v0" and refuses SASL/PLAIN ("SASL Handshake not supported
// by broker"). Lowering the mins only changes what clients believe; the
// versions they then pick are the highest both sides know (librdkafka 2.0.2:
// Produce v7, Fetch v11, SaslHandshake v1), which kfake serves. A client that
// really sends Produce v0-2 or Fetch v0-3 (the pre-0.11 message formats) is
// still refused by kfake, which closes the connection. SaslHandshake v0 is
// served for real by saslv0.go.
var kafka3Mins = map[int16]int16{
	int16(kmsg.Produce):       0,
	int16(kmsg.Fetch):         0,
	int16(kmsg.SASLHandshake): 0,
}

// apiVersions answers ApiVersions in place of kfake, from kfake's own answer
// taken once at start. Feature levels changed later by UpdateFeatures are
// therefore not reflected; nothing in kscope changes them.
type apiVersions struct {
	base      *kmsg.ApiVersionsResponse
	clusterID string
	node      func() int32 // the broker that received the request
}

// answer mirrors kfake's handleApiVersions (18_api_versions.go) with the
// lowered minimums.
func (a *apiVersions) answer(req *kmsg.ApiVersionsRequest) *kmsg.ApiVersionsResponse {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)

	own := a.key(int16(kmsg.ApiVersions))
	// KIP-511: a version above ours is answered at v0 with
	// UNSUPPORTED_VERSION and only our ApiVersions range, so the client
	// retries at a version we know.
	if req.Version > own.MaxVersion {
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{own}
		return resp
	}
	// v3+ names the client software; brokers validate it (KIP-511).
	if req.Version >= 3 && (!validSoftware(req.ClientSoftwareName) || !validSoftware(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	// v5+ may name the cluster and node the client meant to reach
	// (KIP-1242): both or neither, and a mismatch means rebootstrap.
	if req.Version >= 5 {
		hasCluster, hasNode := req.ClusterID != nil, req.NodeID != -1
		switch {
		case hasCluster != hasNode:
			resp.ErrorCode = kerr.InvalidRequest.Code
			return resp
		case hasCluster && (*req.ClusterID != a.clusterID || req.NodeID != a.node()):
			resp.ErrorCode = kerr.RebootstrapRequired.Code
			return resp
		}
	}

	resp.ApiKeys = slices.Clone(a.base.ApiKeys)
	for i := range resp.ApiKeys {
		if min, ok := kafka3Mins[resp.ApiKeys[i].ApiKey]; ok && min < resp.ApiKeys[i].MinVersion {
			resp.ApiKeys[i].MinVersion = min
		}
	}
	// The features are tagged fields of v3+; kmsg leaves them out of
	// older answers.
	resp.SupportedFeatures = slices.Clone(a.base.SupportedFeatures)
	resp.FinalizedFeatures = slices.Clone(a.base.FinalizedFeatures)
	resp.FinalizedFeaturesEpoch = a.base.FinalizedFeaturesEpoch
	return resp
}

// key returns kfake's range for an API key.
func (a *apiVersions) key(k int16) kmsg.ApiVersionsResponseApiKey {
	for _, v := range a.base.ApiKeys {
		if v.ApiKey == k {
			return v
		}
	}
	return kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: -1, MaxVersion: -1}
}

// validSoftware is the broker's pattern for client software names and
// versions: [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
func validSoftware(s string) bool {
	alnum := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
