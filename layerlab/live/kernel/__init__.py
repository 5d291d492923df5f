"""The plumbing under every lab: it knows nothing of the labs, and the labs stand on it.

syscalls  unshare, mount, umount2, pivot_root through ctypes
child     fork + unshare + uid maps + cleanup: how every lab runs its kernel work
cleanup   temp dirs, Ctrl-C during cleanup, named checkpoints for tests
probe     what this machine allows, found by trying (`layerlab probe --json`)
cgroupfs  finding v2/v1 controllers; a Cgroup you create, limit, snapshot, remove
result    the shape every lab returns: live, world, facts declared once
"""
