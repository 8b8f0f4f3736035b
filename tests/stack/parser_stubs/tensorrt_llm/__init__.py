"""Stand-in for TensorRT-LLM (`tensorrt-llm==1.3.0rc29` needs CUDA and does not install here).

`dynamo.trtllm.backend_args` imports it only to read four defaults off the LLM API's argument model
(`max_batch_size`, `max_num_tokens`, `max_seq_len`, `max_beam_width`) while building the worker's
argument parser; nothing else of it runs when arguments are parsed. Put this directory on PYTHONPATH
only in the subprocess that parses the DGD's worker command line.
"""
