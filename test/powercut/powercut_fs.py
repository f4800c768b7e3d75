#!/usr/bin/python3
"""A file system that loses power: the power-cut rig's disk (test/powercut).

Every write is served at once (reads see it), but it becomes durable only when its file is
fsynced or fdatasynced; a file's name (create, rename, unlink, mkdir) becomes durable at the
next fsync of any file or folder, as a journaling file system commits its metadata. A cut
freezes the file system at that instant (every operation after it hangs, as on a dead bus),
writes what was durable to the state folder, optionally with the unsynced writes of each file
torn (a random prefix of them, the last cut at a 512-byte sector), and reports "CUT" on stdout.
The next mount serves the state folder: the disk as it is after power returns.

Stricter than ext4 in ordered mode, which also writes newly allocated data before it commits
metadata: here nothing unsynced survives unless --tear says so. Hand-written because no file
system on these machines forgets on command what was not synced, and a whole guest (qemu) costs
seconds a cut where this costs milliseconds.

Commands, one a line on stdin:
  cut                     cut now
  arm OP PATTERN N        cut at the Nth OP (write, fsync, create, rename, unlink, truncate)
                          of any file (PATTERN "*") or
                          of a file whose name ends with PATTERN, counted from now, before it
                          happens
  fail OP ERRNO RATE      answer OP (write, fsync, open) with ERRNO (EIO, ENOSPC, EROFS) at
                          RATE (0..1); RATE 0 stops it
  exit                    unmount and exit (after a cut: the agent is dead)
Stdout: "READY", then "CUT <what>" at a cut; "STATS <json>" after each command.

Usage: powercut_fs.py STATE_DIR MOUNTPOINT [--tear] [--seed N]
"""

import errno
import json
import os
import random
import stat
import sys

import pyfuse3
import trio

SECTOR = 512
ERRNOS = {"EIO": errno.EIO, "ENOSPC": errno.ENOSPC, "EROFS": errno.EROFS}


class Node:
    def __init__(self, inode, is_dir, data=b""):
        self.inode = inode
        self.is_dir = is_dir
        self.children = {}  # name (bytes) -> inode, live namespace
        self.data = bytearray(data)  # what reads see
        self.durable = bytes(data)  # what survives a cut
        self.pending = []  # ("w", offset, bytes) or ("t", size) since the last sync
        self.lookups = 0
        self.mtime = 0
        self.name = ""  # its last name, for armed points and faults


class PowerCutFs(pyfuse3.Operations):
    enable_writeback_cache = False

    def __init__(self, state_dir, tear, rng):
        super().__init__()
        self.state_dir = state_dir
        self.tear = tear
        self.rng = rng
        self.nodes = {pyfuse3.ROOT_INODE: Node(pyfuse3.ROOT_INODE, True)}
        self.next_inode = pyfuse3.ROOT_INODE + 1
        self.handles = {}  # fh -> inode
        self.next_fh = 1
        self.frozen = False
        self.cut_done = trio.Event()
        self.armed = None  # [op, pattern, remaining]
        self.faults = {}  # op -> (errno, rate)
        self.stats = {"writes": 0, "syncs": 0, "metadata_commits": 0, "faults": 0}
        self.load(state_dir, pyfuse3.ROOT_INODE)
        # The names as they were at the last commit: path tuple -> inode.
        self.durable_names = self.snapshot_names()

    # The durable side ------------------------------------------------------------------------

    def load(self, path, inode):
        for entry in sorted(os.listdir(path)):
            full = os.path.join(path, entry)
            child = self.new_node(os.path.isdir(full))
            child.name = entry
            if not child.is_dir:
                with open(full, "rb") as f:
                    data = f.read()
                child.data = bytearray(data)
                child.durable = data
            self.nodes[inode].children[os.fsencode(entry)] = child.inode
            if child.is_dir:
                self.load(full, child.inode)

    def snapshot_names(self):
        names = {}

        def walk(inode, prefix):
            for name, child in self.nodes[inode].children.items():
                names[prefix + (name,)] = child
                if self.nodes[child].is_dir:
                    walk(child, prefix + (name,))

        walk(pyfuse3.ROOT_INODE, ())
        return names

    def commit_names(self):
        self.durable_names = self.snapshot_names()
        self.stats["metadata_commits"] += 1

    def sync_data(self, node):
        node.durable = bytes(node.data)
        node.pending = []

    def torn(self, node):
        """The file as a disk that wrote some of the queued writes, in order, may leave it."""
        data = bytearray(node.durable)
        ops = node.pending
        k = self.rng.randint(0, len(ops))
        for i, op in enumerate(ops[:k + 1] if k < len(ops) else ops):
            last = i == k
            if op[0] == "t":
                if not last:
                    truncate(data, op[1])
                continue
            offset, buf = op[1], op[2]
            if last:
                sectors = len(buf) // SECTOR
                buf = buf[: self.rng.randint(0, sectors) * SECTOR]
            write_at(data, offset, buf)
        return bytes(data)

    def write_state(self):
        """Replaces the state folder with what survived the cut."""
        tmp = self.state_dir.rstrip("/") + ".next"
        os.makedirs(tmp)
        for path, inode in sorted(self.durable_names.items()):
            node = self.nodes.get(inode)
            full = os.path.join(tmp, *[os.fsdecode(p) for p in path])
            if node is None or node.is_dir:
                os.makedirs(full, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(self.torn(node) if self.tear and node.pending else node.durable)
        old = self.state_dir.rstrip("/") + ".old"
        os.rename(self.state_dir, old)
        os.rename(tmp, self.state_dir)
        for root, dirs, files in os.walk(old, topdown=False):
            for f in files:
                os.unlink(os.path.join(root, f))
            for d in dirs:
                os.rmdir(os.path.join(root, d))
        os.rmdir(old)

    async def cut(self, what):
        if self.frozen:
            await trio.sleep_forever()
        self.frozen = True
        self.write_state()
        emit(f"CUT {what}")
        self.cut_done.set()
        await trio.sleep_forever()

    async def gate(self, op, node_name):
        """Every operation passes here: a frozen disk hangs; an armed point cuts; faults fail."""
        if self.frozen:
            await trio.sleep_forever()
        armed = self.armed
        if armed and armed[0] == op and (armed[1] == "*" or node_name.endswith(armed[1])):
            armed[2] -= 1
            if armed[2] <= 0:
                self.armed = None
                await self.cut(f"{op} {node_name}")
        fault = self.faults.get(op)
        if fault and self.rng.random() < fault[1]:
            self.stats["faults"] += 1
            raise pyfuse3.FUSEError(fault[0])

    # Helpers ---------------------------------------------------------------------------------

    def new_node(self, is_dir):
        node = Node(self.next_inode, is_dir)
        self.nodes[node.inode] = node
        self.next_inode += 1
        return node

    def name_of(self, inode):
        return self.nodes[inode].name

    def attrs(self, node):
        a = pyfuse3.EntryAttributes()
        a.st_ino = node.inode
        a.generation = 0
        a.entry_timeout = 0
        a.attr_timeout = 0
        a.st_mode = (stat.S_IFDIR | 0o755) if node.is_dir else (stat.S_IFREG | 0o644)
        a.st_nlink = 2 if node.is_dir else 1
        a.st_uid = os.getuid()
        a.st_gid = os.getgid()
        a.st_rdev = 0
        a.st_size = len(node.data)
        a.st_blksize = 4096
        a.st_blocks = (len(node.data) + 511) // 512
        a.st_atime_ns = a.st_mtime_ns = a.st_ctime_ns = node.mtime
        return a

    def child(self, parent_inode, name):
        inode = self.nodes[parent_inode].children.get(name)
        if inode is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return self.nodes[inode]

    # Operations ------------------------------------------------------------------------------

    async def lookup(self, parent_inode, name, ctx=None):
        if self.frozen:
            await trio.sleep_forever()
        if name == b".":
            return self.attrs(self.nodes[parent_inode])
        node = self.child(parent_inode, name)
        node.lookups += 1
        return self.attrs(node)

    async def forget(self, inode_list):
        pass

    async def getattr(self, inode, ctx=None):
        if self.frozen:
            await trio.sleep_forever()
        return self.attrs(self.nodes[inode])

    async def setattr(self, inode, attr, fields, fh, ctx):
        node = self.nodes[inode]
        if fields.update_size:
            await self.gate("truncate", self.name_of(inode))
            truncate(node.data, attr.st_size)
            node.pending.append(("t", attr.st_size))
        if fields.update_mtime:
            node.mtime = attr.st_mtime_ns
        return self.attrs(node)

    async def statfs(self, ctx):
        s = pyfuse3.StatvfsData()
        s.f_bsize = s.f_frsize = 4096
        s.f_blocks = s.f_bfree = s.f_bavail = 1 << 20
        s.f_files = s.f_ffree = s.f_favail = 1 << 16
        s.f_namemax = 255
        return s

    async def opendir(self, inode, ctx):
        return inode

    async def readdir(self, fh, start_id, token):
        entries = sorted(self.nodes[fh].children.items())
        for i, (name, inode) in enumerate(entries[start_id:], start_id):
            if not pyfuse3.readdir_reply(token, name, self.attrs(self.nodes[inode]), i + 1):
                break

    async def releasedir(self, fh):
        pass

    async def fsyncdir(self, fh, datasync):
        await self.gate("fsync", "/")
        self.commit_names()

    async def mkdir(self, parent_inode, name, mode, ctx):
        await self.gate("create", os.fsdecode(name))
        node = self.new_node(True)
        node.name = os.fsdecode(name)
        self.nodes[parent_inode].children[name] = node.inode
        return self.attrs(node)

    async def rmdir(self, parent_inode, name, ctx):
        await self.gate("unlink", os.fsdecode(name))
        node = self.child(parent_inode, name)
        if node.children:
            raise pyfuse3.FUSEError(errno.ENOTEMPTY)
        del self.nodes[parent_inode].children[name]

    async def create(self, parent_inode, name, mode, flags, ctx):
        await self.gate("create", os.fsdecode(name))
        await self.gate("open", os.fsdecode(name))
        node = self.new_node(False)
        node.name = os.fsdecode(name)
        self.nodes[parent_inode].children[name] = node.inode
        node.lookups += 1
        return (self.handle(node.inode), self.attrs(node))

    async def open(self, inode, flags, ctx):
        await self.gate("open", self.name_of(inode))
        node = self.nodes[inode]
        if flags & os.O_TRUNC:
            truncate(node.data, 0)
            node.pending.append(("t", 0))
        return self.handle(inode)

    def handle(self, inode):
        fh = self.next_fh
        self.next_fh += 1
        self.handles[fh] = inode
        return pyfuse3.FileInfo(fh=fh)

    async def read(self, fh, off, size):
        if self.frozen:
            await trio.sleep_forever()
        return bytes(self.nodes[self.handles[fh]].data[off : off + size])

    async def write(self, fh, off, buf):
        node = self.nodes[self.handles[fh]]
        await self.gate("write", self.name_of(node.inode))
        write_at(node.data, off, buf)
        node.pending.append(("w", off, bytes(buf)))
        self.stats["writes"] += 1
        return len(buf)

    async def fsync(self, fh, datasync):
        node = self.nodes[self.handles[fh]]
        await self.gate("fsync", self.name_of(node.inode))
        # A journaling file system's fsync commits its journal too: the names become durable.
        self.commit_names()
        self.sync_data(node)
        self.stats["syncs"] += 1

    async def flush(self, fh):
        pass

    async def release(self, fh):
        self.handles.pop(fh, None)

    async def unlink(self, parent_inode, name, ctx):
        await self.gate("unlink", os.fsdecode(name))
        self.child(parent_inode, name)
        del self.nodes[parent_inode].children[name]

    async def rename(self, parent_old, name_old, parent_new, name_new, flags, ctx):
        await self.gate("rename", os.fsdecode(name_new))
        node = self.child(parent_old, name_old)
        del self.nodes[parent_old].children[name_old]
        self.nodes[parent_new].children[name_new] = node.inode
        node.name = os.fsdecode(name_new)

    async def access(self, inode, mode, ctx):
        return True


def write_at(data, offset, buf):
    if offset > len(data):
        data.extend(b"\0" * (offset - len(data)))
    data[offset : offset + len(buf)] = buf


def truncate(data, size):
    if size < len(data):
        del data[size:]
    else:
        data.extend(b"\0" * (size - len(data)))


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def commands(fs, nursery):
    stream = trio.lowlevel.FdStream(os.dup(0))
    buffered = b""
    while True:
        chunk = await stream.receive_some(4096)
        if not chunk:
            break
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            words = line.decode().split()
            if not words:
                continue
            if words[0] == "cut":
                nursery.start_soon(fs.cut, "command")
            elif words[0] == "arm":
                fs.armed = [words[1], words[2], int(words[3])]
            elif words[0] == "fail":
                rate = float(words[3])
                if rate == 0:
                    fs.faults.pop(words[1], None)
                else:
                    fs.faults[words[1]] = (ERRNOS[words[2]], rate)
            elif words[0] == "exit":
                nursery.cancel_scope.cancel()
                return
            emit("STATS " + json.dumps(fs.stats))
    nursery.cancel_scope.cancel()


async def serve(fs):
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pyfuse3.main)
        nursery.start_soon(commands, fs, nursery)
        emit("READY")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seed = 0
    if "--seed" in sys.argv:
        seed = int(sys.argv[sys.argv.index("--seed") + 1])
        args.remove(str(seed))
    state_dir, mountpoint = args
    fs = PowerCutFs(state_dir, "--tear" in sys.argv, random.Random(seed))
    options = set(pyfuse3.default_options)
    options.add("fsname=powercut")
    pyfuse3.init(fs, mountpoint, options)
    try:
        trio.run(serve, fs)
    finally:
        pyfuse3.close(unmount=True)


if __name__ == "__main__":
    main()
