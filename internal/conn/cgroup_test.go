package conn

import "testing"

const (
	cid  = "3f1c9a7b2e4d5f60718293a4b5c6d7e8f9012a3b4c5d6e7f8091a2b3c4d5e6f7"
	cid2 = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180706f5e4d3c2b1a09f8e7d6c5b"
	uid  = "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"
	uidU = "1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901"
	// The kubelet names a static pod by a hash, not a UUID.
	staticUID = "8c2d3b4a5f6e7d8c9b0a1f2e3d4c5b6a"
)

// The lines are /proc/<pid>/cgroup as each runtime and cgroup driver
// leaves them.
func TestCgroupPath(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		path      string
		container string
		pod       string
	}{
		{
			name:      "kubernetes containerd systemd driver, burstable",
			file:      "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope\n",
			path:      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope",
			container: cid,
			pod:       uid,
		},
		{
			name:      "kubernetes cri-o systemd driver, besteffort",
			file:      "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/crio-" + cid + ".scope\n",
			path:      "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/crio-" + cid + ".scope",
			container: cid,
			pod:       uid,
		},
		{
			name:      "kubernetes guaranteed pod has no QoS slice",
			file:      "0::/kubepods.slice/kubepods-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope\n",
			path:      "/kubepods.slice/kubepods-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope",
			container: cid,
			pod:       uid,
		},
		{
			name:      "kubernetes static pod uid is a hash",
			file:      "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + staticUID + ".slice/cri-containerd-" + cid + ".scope\n",
			path:      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + staticUID + ".slice/cri-containerd-" + cid + ".scope",
			container: cid,
			pod:       staticUID,
		},
		{
			name:      "cri-o conmon is the monitor, not the container",
			file:      "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/crio-conmon-" + cid + ".scope\n",
			path:      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/crio-conmon-" + cid + ".scope",
			container: "",
			pod:       uid,
		},
		{
			name: "kubernetes pod sandbox slice, no container yet",
			file: "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice\n",
			path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice",
			pod:  uid,
		},
		{
			name: "kubernetes cgroupfs driver on cgroup v1",
			file: "12:cpu,cpuacct:/kubepods/besteffort/pod" + uid + "/" + cid + "\n" +
				"11:memory:/kubepods/besteffort/pod" + uid + "/" + cid + "\n",
			path:      "/kubepods/besteffort/pod" + uid + "/" + cid,
			container: cid,
			pod:       uid,
		},
		{
			name:      "kubernetes cgroupfs driver, cri-o",
			file:      "0::/kubepods/burstable/pod" + uid + "/crio-" + cid + "\n",
			path:      "/kubepods/burstable/pod" + uid + "/crio-" + cid,
			container: cid,
			pod:       uid,
		},
		{
			name:      "docker systemd driver",
			file:      "0::/system.slice/docker-" + cid + ".scope\n",
			path:      "/system.slice/docker-" + cid + ".scope",
			container: cid,
		},
		{
			name:      "docker cgroupfs driver",
			file:      "0::/docker/" + cid + "\n",
			path:      "/docker/" + cid,
			container: cid,
		},
		{
			name:      "docker in docker names the inner container",
			file:      "0::/docker/" + cid + "/docker/" + cid2 + "\n",
			path:      "/docker/" + cid + "/docker/" + cid2,
			container: cid2,
		},
		{
			name:      "containerd namespace",
			file:      "0::/k8s.io/" + cid + "\n",
			path:      "/k8s.io/" + cid,
			container: cid,
		},
		{
			name:      "podman rootful",
			file:      "0::/machine.slice/libpod-" + cid + ".scope\n",
			path:      "/machine.slice/libpod-" + cid + ".scope",
			container: cid,
		},
		{
			name:      "podman rootless, inside its container sub-cgroup",
			file:      "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + cid + ".scope/container\n",
			path:      "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + cid + ".scope/container",
			container: cid,
		},
		{
			name:      "podman conmon",
			file:      "0::/machine.slice/libpod-conmon-" + cid + ".scope\n",
			path:      "/machine.slice/libpod-conmon-" + cid + ".scope",
			container: "",
		},
		{
			name: "login session",
			file: "0::/user.slice/user-0.slice/session-1.scope\n",
			path: "/user.slice/user-0.slice/session-1.scope",
		},
		{
			name: "systemd service",
			file: "0::/system.slice/kafka.service\n",
			path: "/system.slice/kafka.service",
		},
		{
			name: "a pod-like name outside kubepods is not a pod",
			file: "0::/machine.slice/pod" + uid + "\n",
			path: "/machine.slice/pod" + uid,
		},
		{
			name: "cgroup v1 prefers name=systemd over the first line",
			file: "12:pids:/user.slice/user-0.slice/session-1.scope\n" +
				"11:memory:/user.slice/user-0.slice/session-1.scope\n" +
				"1:name=systemd:/system.slice/docker-" + cid + ".scope\n",
			path:      "/system.slice/docker-" + cid + ".scope",
			container: cid,
		},
		{
			name: "cgroup v1 without name=systemd or cpu takes the first line",
			file: "4:memory:/docker/" + cid + "\n" +
				"3:pids:/docker/" + cid + "\n",
			path:      "/docker/" + cid,
			container: cid,
		},
		{
			name: "hybrid host, container in the unified hierarchy too",
			file: "12:cpu,cpuacct:/docker/" + cid + "\n" +
				"1:name=systemd:/docker/" + cid + "\n" +
				"0::/docker/" + cid + "\n",
			path:      "/docker/" + cid,
			container: cid,
		},
		{
			name: "hybrid host, runtime used only the v1 controllers",
			file: "12:cpu,cpuacct:/docker/" + cid + "\n" +
				"1:name=systemd:/docker/" + cid + "\n" +
				"0::/\n",
			path:      "/docker/" + cid,
			container: cid,
		},
		{
			name: "container found in a controller other than the chosen one",
			file: "4:memory:/docker/" + cid + "\n" +
				"1:name=systemd:/\n",
			path:      "/",
			container: cid,
		},
		{
			name: "root cgroup",
			file: "0::/\n",
			path: "/",
		},
		{
			name: "empty file",
			file: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, container, pod := cgroupPath(tt.file)
			if path != tt.path {
				t.Errorf("cgroup = %q, want %q", path, tt.path)
			}
			if container != tt.container {
				t.Errorf("container = %q, want %q", container, tt.container)
			}
			if pod != tt.pod {
				t.Errorf("pod = %q, want %q", pod, tt.pod)
			}
		})
	}
}
