from mlmarker import serve

serve()
