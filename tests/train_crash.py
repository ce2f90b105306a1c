#!/usr/bin/python3
"""tests/train_crash.py MMGEN WORKDIR [TRIALS] - crash safety of training.

1. A reference run: `mmgen train --checkpoint --save-every 1` of a tiny model
   to the end, uninterrupted.
2. TRIALS times: the same run SIGKILLed after a random delay (anywhere from
   start-up to the end, so inside checkpoint writes too: every step writes
   one), then `--resume` from whatever checkpoint the kill left (a fresh run
   when none was written yet). Every trial must end with a model file
   byte-identical to the reference's: the checkpoint a kill leaves always
   loads and resuming loses nothing.
3. A full disk (RLIMIT_FSIZE below the checkpoint's size, SIGXFSZ ignored
   so the write fails with EFBIG as on a full file system): saving fails
   with a clear error, and the previous checkpoint and model file stay
   byte for byte as they were.
4. A model path in a directory that cannot exist: a clear error.
Prints counts; exits 1 on the first failure. Standard library only."""
import os
import random
import resource
import signal
import subprocess
import sys
import time

MMGEN, WORK = os.path.abspath(sys.argv[1]), sys.argv[2]
TRIALS = int(sys.argv[3]) if len(sys.argv) > 3 else 100
STEPS = 40
ARGS = ["-t", "tok.json", "--steps", str(STEPS), "--d-model", "32", "--heads", "2", "--layers", "1",
        "--seq-len", "32", "--batch", "4", "--val-fraction", "0", "--log-every", "1000", "corpus.txt"]


def run(*extra, check=True, preexec=None):
    p = subprocess.run([MMGEN, "train"] + ARGS + list(extra), cwd=WORK, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, preexec_fn=preexec)
    if check and p.returncode != 0:
        fail(f"mmgen train {' '.join(extra)} exited {p.returncode}: {p.stderr.decode()}")
    return p


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def read(name):
    with open(os.path.join(WORK, name), "rb") as f:
        return f.read()


def main():
    random.seed(int(os.environ.get("MMGEN_CRASH_SEED", "1")))
    t0 = time.monotonic()
    run("-o", "ref.safetensors", "--checkpoint", "ref.ckpt", "--save-every", "1")
    duration = time.monotonic() - t0
    reference = read("ref.safetensors")

    in_write = no_checkpoint = 0
    for trial in range(TRIALS):
        for stale in os.listdir(WORK):
            if stale.startswith("k."):
                os.unlink(os.path.join(WORK, stale))
        p = subprocess.Popen([MMGEN, "train"] + ARGS + ["-o", "k.safetensors", "--checkpoint", "k.ckpt",
                                                        "--save-every", "1"],
                             cwd=WORK, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(random.uniform(0.0, duration * 1.1))
        p.send_signal(signal.SIGKILL)
        p.wait()
        left = os.listdir(WORK)
        if any(n.startswith("k.ckpt.tmp-") for n in left):
            in_write += 1  # killed inside a checkpoint write: its temporary file is left
        if "k.ckpt" in left:
            r = run("-o", "k.safetensors", "--checkpoint", "k.ckpt", "--save-every", "1", "--resume",
                    check=False)
            if r.returncode != 0:
                fail(f"trial {trial}: the checkpoint a kill left does not resume: {r.stderr.decode()}")
        else:
            no_checkpoint += 1
            run("-o", "k.safetensors", "--checkpoint", "k.ckpt", "--save-every", "1")
        if read("k.safetensors") != reference:
            fail(f"trial {trial}: the resumed run's weights differ from the uninterrupted run's")
    print(f"kill -9: {TRIALS} trials (reference run {duration:.2f} s), {in_write} killed inside a "
          f"checkpoint write, {no_checkpoint} before the first checkpoint; every resumed run ended "
          f"byte-identical to the uninterrupted one")

    # A full disk while saving: the previous checkpoint and model stay intact.
    run("-o", "full.safetensors", "--checkpoint", "full.ckpt", "--steps", "10")
    ckpt, model = read("full.ckpt"), read("full.safetensors")
    limit = len(model) // 2  # under both files: whichever is saved first fails

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    r = run("-o", "full.safetensors", "--checkpoint", "full.ckpt", "--resume", check=False,
            preexec=small_files)
    err = r.stderr.decode()
    if r.returncode == 0:
        fail("a save past RLIMIT_FSIZE succeeded")
    if "full.ckpt" not in err or "File too large" not in err:
        fail(f"the error of a failed save does not name the file and the cause: {err}")
    if read("full.ckpt") != ckpt or read("full.safetensors") != model:
        fail("a failed save changed the previous checkpoint or model file")
    if any(n.startswith("full.ckpt.tmp-") for n in os.listdir(WORK)):
        fail("a failed save left its temporary file behind")
    print(f"full disk (files limited to {limit} bytes): '{err.strip().splitlines()[-1]}'; the previous "
          f"checkpoint and model are unchanged")

    # A model path in a directory that cannot exist (a regular file's child).
    t0 = time.monotonic()
    r = run("-o", "corpus.txt/m.safetensors", check=False)
    took = time.monotonic() - t0
    err = r.stderr.decode()
    if r.returncode == 0 or "corpus.txt/m.safetensors" not in err or "not a directory" not in err:
        fail(f"saving into a non-directory: exit {r.returncode}, '{err}'")
    if b"step " in r.stdout:
        fail("an unwritable --output was found only after training")
    print(f"unwritable directory, refused before training ({took:.2f} s): '{err.strip().splitlines()[-1]}'")


if __name__ == "__main__":
    main()
