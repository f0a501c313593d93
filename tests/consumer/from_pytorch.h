#pragma once
// docs/from_pytorch.md's rows, run: the number of checks that failed (each printed).
int from_pytorch_checks();
