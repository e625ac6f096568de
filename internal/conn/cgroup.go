package conn

import (
	"strings"
)

// cgroupPath picks the path that names a process's cgroup from the text of
// /proc/<pid>/cgroup, and the container and pod found in it.
//
// On a cgroup v2 host the file is one "0::/path" line. On a v1 host every
// hierarchy has a line "id:controllers:/path"; container runtimes place a
// process at the same path in each, so the name=systemd or cpu line is
// taken (the ones every runtime uses), else the first. On a hybrid host
// (v1 controllers plus systemd's unified hierarchy) the v2 line is kept
// unless it is the root, which means the runtime placed the process only
// in the v1 hierarchies.
//
// The container and pod are looked for in the chosen path first, then in
// the other lines, because some runtimes only move a process in a few v1
// controllers.
func cgroupPath(data string) (path, containerID, podUID string) {
	var v2, systemd, cpu, first string
	haveV2 := false
	var all []string
	for line := range strings.SplitSeq(data, "\n") {
		line = strings.TrimSpace(line)
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		controllers, p, ok := strings.Cut(rest, ":")
		if !ok || p == "" {
			continue
		}
		all = append(all, p)
		if id == "0" && controllers == "" {
			v2, haveV2 = p, true
			continue
		}
		if first == "" {
			first = p
		}
		for c := range strings.SplitSeq(controllers, ",") {
			switch c {
			case "name=systemd":
				if systemd == "" {
					systemd = p
				}
			case "cpu":
				if cpu == "" {
					cpu = p
				}
			}
		}
	}
	switch {
	case haveV2 && (v2 != "/" || first == ""):
		path = v2
	case systemd != "":
		path = systemd
	case cpu != "":
		path = cpu
	default:
		path = first
	}
	containerID, podUID = containerOf(path)
	for _, p := range all {
		if containerID != "" && podUID != "" {
			break
		}
		c, pod := containerOf(p)
		if containerID == "" {
			containerID = c
		}
		if podUID == "" {
			podUID = pod
		}
	}
	return path, containerID, podUID
}

// containerRuntimePrefixes name a container's cgroup with the systemd
// driver ("docker-<id>.scope") and, for some, with the cgroupfs driver
// ("crio-<id>"). The conmon scopes of cri-o and podman hold the monitor
// process, not the container, and do not match: their id would not be
// followed by ".scope" after 64 hex digits.
var containerRuntimePrefixes = []string{
	"docker-",         // docker, systemd cgroup driver
	"cri-containerd-", // containerd CRI, systemd driver
	"crio-",           // cri-o
	"libpod-",         // podman
}

// containerOf finds the container id and Kubernetes pod uid in a cgroup
// path. The innermost container wins, so docker-in-docker names the
// process's own container.
func containerOf(path string) (containerID, podUID string) {
	kube := strings.Contains(path, "kubepods")
	for seg := range strings.SplitSeq(path, "/") {
		if id := containerSegment(seg); id != "" {
			containerID = id
			continue
		}
		if kube {
			if uid := podSegment(seg); uid != "" {
				podUID = uid
			}
		}
	}
	return containerID, podUID
}

// containerSegment returns the container id that one path element names:
// a bare 64-hex id (docker and containerd with the cgroupfs driver:
// "/docker/<id>", "/kubepods/burstable/pod<uid>/<id>", containerd's
// "/<namespace>/<id>") or a runtime prefix, the id, and an optional
// ".scope".
func containerSegment(seg string) string {
	if isHex64(seg) {
		return seg
	}
	for _, prefix := range containerRuntimePrefixes {
		rest, ok := strings.CutPrefix(seg, prefix)
		if !ok {
			continue
		}
		rest = strings.TrimSuffix(rest, ".scope")
		if isHex64(rest) {
			return rest
		}
	}
	return ""
}

// podSegment returns the pod uid that one path element names: "pod<uid>"
// with the cgroupfs driver, or "kubepods[-<qos>]-pod<uid>.slice" with the
// systemd driver, where systemd's unit naming turned the uid's dashes into
// underscores. Guaranteed pods have no QoS element ("kubepods-pod<uid>").
func podSegment(seg string) string {
	var uid string
	if s, ok := strings.CutSuffix(seg, ".slice"); ok {
		i := strings.LastIndex(s, "-pod")
		if i < 0 || !strings.HasPrefix(s, "kubepods") {
			return ""
		}
		uid = strings.ReplaceAll(s[i+len("-pod"):], "_", "-")
	} else if s, ok := strings.CutPrefix(seg, "pod"); ok {
		uid = s
	}
	if !isPodUID(uid) {
		return ""
	}
	return uid
}

// isPodUID accepts a UUID (API-server pods) or 32 hex digits (the hash
// the kubelet uses as the uid of a static pod).
func isPodUID(s string) bool {
	switch len(s) {
	case 32:
		return isHex(s)
	case 36:
		for i := 0; i < len(s); i++ {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if s[i] != '-' {
					return false
				}
			} else if !isHexDigit(s[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func isHex64(s string) bool { return len(s) == 64 && isHex(s) }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
}
