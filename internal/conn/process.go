// Package conn tells who owns a traced connection: the process (pid,
// command, command line, executable), its cgroup, container and Kubernetes
// pod, read from /proc. It never reads a process's memory or environment
// (where secrets live), only what `ps` and the cgroup files show.
package conn

// Process is the identity of a traced process.
type Process struct {
	PID     uint32 `json:"pid"`
	Comm    string `json:"process"`
	Cmdline string `json:"cmdline,omitempty"`
	Exe     string `json:"exe,omitempty"`
	// Cgroup is the cgroup v2 path; on a v1 host (or a hybrid one where
	// the process is only in v1 hierarchies) the name=systemd or cpu path.
	Cgroup string `json:"cgroup,omitempty"`
	// ContainerID is the docker, containerd or cri-o container id found
	// in the cgroup path; PodUID the Kubernetes pod uid, when the path
	// has one.
	ContainerID string `json:"container,omitempty"`
	PodUID      string `json:"pod,omitempty"`
}
