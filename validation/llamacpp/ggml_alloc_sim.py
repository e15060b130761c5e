"""Re-implementation of what decides llama.cpp's compute-buffer size: the graph of a dense llama/qwen2 decoder with
flash attention, ggml-backend's split of that graph between the GPU and the host (input copies at the start of the
GPU split, n_copies = 1), and ggml-alloc's graph allocator (children and view counts, in-place reuse for the ops that
allow it but never through a view parent, outputs never freed, best fit over the free blocks other than the last,
merging on free, 128-byte alignment on CUDA). Written from reading ggml/src/ggml-alloc.c, ggml/src/ggml-backend.cpp
and src/llama-graph.cpp / src/models of llama.cpp builds of 2025-2026; no code is copied. Python 3, no dependencies.

It covers the graph as builds of that period make it before llama.cpp PR #23764 (2026-05-27, the mask became f16 on
the host) and #23861 (llama-server reserves fewer logits rows): f32 KQ mask on the host, copied to the GPU and cast
to f16 there, all n_ubatch logits rows reserved. `mask_f16=True` and `n_outputs` model the later builds.
See README.md for what it reproduces.
"""
import itertools
F32, F16, I32 = 4, 2, 4
INPLACE_OPS = {"ADD","MUL","RMS_NORM","ROPE","SCALE","UNARY","SOFT_MAX","ADD1","SUB","DIV","SQR","SQRT","LOG","CLAMP","DIAG_MASK_INF","FILL","ADD_ID"}
VIEW_OPS = {"VIEW","RESHAPE","PERMUTE","TRANSPOSE"}
_id = itertools.count()
class T:
    def __init__(s, name, op, ne, esize, src=(), view_src=None, external=False, inp=False, out=False, backend=None):
        s.id = next(_id); s.name=name; s.op=op; s.ne=list(ne)+[1]*(4-len(ne)); s.esize=esize
        s.src=list(src); s.external=external; s.input=inp; s.output=out; s.backend=backend
        if view_src is not None and view_src.view_src is not None: view_src = view_src.view_src
        s.view_src=view_src
    def nbytes(s):
        n=1
        for x in s.ne: n*=x
        return n*s.esize
    def __repr__(s): return s.name
def same_layout(a,b): return a.ne==b.ne and a.esize==b.esize

class Graph:
    def __init__(s): s.nodes=[]; s.leafs=[]; s.visited=set()
    def expand(s, t):
        if t is None or t.id in s.visited: return
        s.visited.add(t.id)
        for x in t.src:
            if x is not None and x is not t: s.expand(x)
        if t.op == "NONE": s.leafs.append(t)
        else: s.nodes.append(t)

# ---------------- model graph (llm_build_qwen2 / llama-like, FA on, f16 KV) -------------
def build(hp, n_tokens, n_kv, has_qkv_bias=True, swiglu_fused=True, last_getrows=True, order='qvk', up_first=False, norm_out=True, idx_t=8, cast_early=False, mask_f16=False, n_outputs=None):
    g=Graph(); W=lambda n: T(n,"NONE",[1],1,external=True)
    E=hp['n_embd']; H=hp['n_head']; HK=hp['n_head_kv']; D=hp['head_dim']; FF=hp['n_ff']; V=hp['n_vocab']; L=hp['n_layer']
    tok_embd=W("tok_embd"); tok_embd.backend="CPU"
    inp_tokens=T("inp_tokens","NONE",[n_tokens],I32,inp=True)
    inpL=T("inp_embd","GET_ROWS",[E,n_tokens],F32,[tok_embd,inp_tokens])
    inp_pos=T("inp_pos","NONE",[n_tokens],I32,inp=True)
    k_idxs=T("k_idxs","NONE",[n_tokens],idx_t,inp=True); v_idxs=T("v_idxs","NONE",[n_tokens],idx_t,inp=True)
    if n_outputs is None: n_outputs=n_tokens
    if mask_f16:   # llama.cpp PR #23764 (2026-05-27): mask created directly in F16 when FA, no cast
        mask=T("kq_mask","NONE",[n_kv,n_tokens],F16,inp=True); mask_cnv=mask
    else:
        mask=T("kq_mask","NONE",[n_kv,n_tokens],F32,inp=True)
        mask_cnv=T("kq_mask_cnv","CPY",[n_kv,n_tokens],F16,[mask]); mask_cnv.src.append(mask_cnv)  # ggml_cast: src[1]=result
    out_ids=T("out_ids","NONE",[n_outputs],I32,inp=True)
    if cast_early: g.expand(inpL); g.expand(mask_cnv)
    for il in range(L):
        inpSA=inpL
        cur=T(f"norm-{il}","RMS_NORM",[E,n_tokens],F32,[inpL])
        cur=T(f"attn_norm-{il}","MUL",[E,n_tokens],F32,[cur,W("w")])
        Q_=T(f"Qmm-{il}","MUL_MAT",[H*D,n_tokens],F32,[W("wq"),cur])
        if has_qkv_bias: Q_=T(f"Qb-{il}","ADD",[H*D,n_tokens],F32,[Q_,W("bq")])
        K_=T(f"Kmm-{il}","MUL_MAT",[HK*D,n_tokens],F32,[W("wk"),cur])
        if has_qkv_bias: K_=T(f"Kb-{il}","ADD",[HK*D,n_tokens],F32,[K_,W("bk")])
        V_=T(f"Vmm-{il}","MUL_MAT",[HK*D,n_tokens],F32,[W("wv"),cur])
        if has_qkv_bias: V_=T(f"Vb-{il}","ADD",[HK*D,n_tokens],F32,[V_,W("bv")])
        Qr=T(f"Qrs-{il}","RESHAPE",[D,H,n_tokens],F32,[Q_],view_src=Q_)
        Kr=T(f"Krs-{il}","RESHAPE",[D,HK,n_tokens],F32,[K_],view_src=K_)
        Vr=T(f"Vrs-{il}","RESHAPE",[D,HK,n_tokens],F32,[V_],view_src=V_)
        Qr=T(f"Qrope-{il}","ROPE",[D,H,n_tokens],F32,[Qr,inp_pos])
        Kr=T(f"Krope-{il}","ROPE",[D,HK,n_tokens],F32,[Kr,inp_pos])
        # build_attn: expand q, v, k; then cpy_k, cpy_v; then mha
        if order=='qvk': g.expand(Qr); g.expand(Vr); g.expand(Kr)
        else: g.expand(Qr); g.expand(Kr); g.expand(Vr)
        kvk=W(f"cache_k{il}"); kvv=W(f"cache_v{il}")
        kc=T(f"kcur2d-{il}","VIEW",[HK*D,n_tokens],F32,[Kr],view_src=Kr)
        g.expand(T(f"set_rows_k-{il}","SET_ROWS",[HK*D,n_kv],F16,[kc,k_idxs],view_src=kvk))
        vc=T(f"vcur2d-{il}","VIEW",[HK*D,n_tokens],F32,[Vr],view_src=Vr)
        g.expand(T(f"set_rows_v-{il}","SET_ROWS",[HK*D,n_kv],F16,[vc,v_idxs],view_src=kvv))
        q=T(f"q4d-{il}","VIEW",[D,H,n_tokens,1],F32,[Qr],view_src=Qr)
        q=T(f"qp-{il}","PERMUTE",[D,n_tokens,H,1],F32,[q],view_src=q)
        k=T(f"kview-{il}","VIEW",[D,HK,n_kv,1],F16,[kvk],view_src=kvk); k=T(f"kp-{il}","PERMUTE",[D,n_kv,HK,1],F16,[k],view_src=k)
        v=T(f"vview-{il}","VIEW",[D,HK,n_kv,1],F16,[kvv],view_src=kvv); v=T(f"vp-{il}","PERMUTE",[D,n_kv,HK,1],F16,[v],view_src=v)
        fa_=T(f"fattn-{il}","FLASH_ATTN_EXT",[D,H,n_tokens,1],F32,[q,k,v,mask_cnv])
        cur=T(f"kqv_out-{il}","RESHAPE",[D*H,n_tokens],F32,[fa_],view_src=fa_)
        g.expand(cur)
        cur=T(f"wo-{il}","MUL_MAT",[E,n_tokens],F32,[W("wo"),cur])
        if hp.get('o_bias'): cur=T(f"wob-{il}","ADD",[E,n_tokens],F32,[cur,W("bo")])
        if il==L-1 and last_getrows:
            cur=T(f"getrows_cur-{il}","GET_ROWS",[E,n_outputs],F32,[cur,out_ids])
            inpSA=T(f"getrows_inpSA-{il}","GET_ROWS",[E,n_outputs],F32,[inpSA,out_ids])
        nt = n_outputs if (il==L-1 and last_getrows) else n_tokens
        ffn_inp=T(f"ffn_inp-{il}","ADD",[E,nt],F32,[cur,inpSA])
        cur=T(f"ffn_normraw-{il}","RMS_NORM",[E,nt],F32,[ffn_inp])
        cur=T(f"ffn_norm-{il}","MUL",[E,nt],F32,[cur,W("w")])
        up=T(f"up-{il}","MUL_MAT",[FF,nt],F32,[W("wup"),cur])
        gate=T(f"gate-{il}","MUL_MAT",[FF,nt],F32,[W("wgate"),cur])
        if swiglu_fused:
            act=T(f"swiglu-{il}","GLU",[FF,nt],F32,[up,gate] if up_first else [gate,up])
        else:
            act=T(f"silu-{il}","UNARY",[FF,n_tokens],F32,[gate]); act=T(f"par-{il}","MUL",[FF,n_tokens],F32,[act,up])
        down=T(f"down-{il}","MUL_MAT",[E,nt],F32,[W("wdown"),act])
        inpL=T(f"l_out-{il}","ADD",[E,nt],F32,[down,ffn_inp])
    cur=T("result_normraw","RMS_NORM",[E,n_outputs],F32,[inpL])
    cur=T("result_norm","MUL",[E,n_outputs],F32,[cur,W("onorm")],out=norm_out)
    logits=T("result_output","MUL_MAT",[V,n_outputs],F32,[W("output"),cur],out=True)
    g.expand(logits)
    return g

# ---------------- scheduler (2 backends, n_copies = 1) ---------------------------------
def schedule(g, two_backends=True):
    """returns graph_copy (nodes, leafs) with per-tensor buffer ids; GPU=0, CPU=1"""
    if not two_backends:
        for t in g.nodes+g.leafs: t.buf=0
        return g.nodes, g.leafs
    for t in g.leafs: t.buf = 1 if (t.input or t.backend=="CPU") else 0
    for t in g.nodes:
        if t.op=="GET_ROWS" and t.src[0].backend=="CPU": t.buf=1
        else: t.buf=0
    copies={}
    nodes_out=[]
    # determine split boundaries on original node list
    bounds=[]; cb=None
    for i,t in enumerate(g.nodes):
        if t.op in VIEW_OPS: continue
        if cb is None or t.buf!=cb: bounds.append(i); cb=t.buf
    bounds.append(len(g.nodes))
    for si in range(len(bounds)-1):
        seg=g.nodes[bounds[si] if si else 0:bounds[si+1]]   # leading views belong to the first split
        sbuf=[t for t in seg if t.op not in VIEW_OPS][0].buf
        inputs=[]
        for t in seg:
            if t.op in VIEW_OPS: continue
            for j,s in enumerate(t.src):
                if s is None or s is t: continue
                if s.external and not s.input: continue   # weights / KV: assume supported (same device)
                if getattr(s,'buf',sbuf)!=sbuf:
                    key=(s.id,sbuf)
                    if key not in copies:
                        c=T(f"{'GPU' if sbuf==0 else 'CPU'}#{s.name}","NONE",s.ne,s.esize); c.buf=sbuf; c.is_copy=True
                        copies[key]=c; inputs.append(s)
                    t.src[j]=copies[key]
        for s in inputs:
            dep=T(f"{s.name}(view)","NONE",s.ne,s.esize,[s],view_src=s); dep.buf=s.buf
            nodes_out.append(dep); nodes_out.append(copies[(s.id,sbuf)])
        nodes_out.extend(seg)
    return nodes_out, g.leafs

# ---------------- ggml_dyn_tallocr -------------------------------------------------------
class DynAlloc:
    def __init__(s, align): s.align=align; s.blocks=[[0,1<<62]]; s.max_size=0
    def alloc(s,size):
        size=(size+s.align-1)//s.align*s.align
        best=-1; bsz=1<<63
        for i in range(len(s.blocks)-1):
            o,sz=s.blocks[i]
            if sz>=size and sz<=bsz: best=i; bsz=sz
        if best==-1: best=len(s.blocks)-1
        o,sz=s.blocks[best]; addr=o
        s.blocks[best]=[o+size,sz-size]
        if s.blocks[best][1]==0: s.blocks.pop(best)
        s.max_size=max(s.max_size,addr+size)
        return addr
    def free(s,addr,size):
        size=(size+s.align-1)//s.align*s.align
        for i,(o,sz) in enumerate(s.blocks):
            if o+sz==addr:
                s.blocks[i][1]+=size
                if i<len(s.blocks)-1 and s.blocks[i][0]+s.blocks[i][1]==s.blocks[i+1][0]:
                    s.blocks[i][1]+=s.blocks[i+1][1]; s.blocks.pop(i+1)
                return
            if addr+size==o:
                s.blocks[i]=[addr,sz+size]
                if i>0 and s.blocks[i-1][0]+s.blocks[i-1][1]==s.blocks[i][0]:
                    s.blocks[i-1][1]+=s.blocks[i][1]; s.blocks.pop(i)
                return
        s.blocks.append([addr,size]); s.blocks.sort()

# ---------------- ggml_gallocr_alloc_graph_impl -----------------------------------------
def gallocr(nodes, leafs, aligns=(128,32), trace=None):
    A=[DynAlloc(a) for a in aligns]
    hn={}  # id -> dict
    def H(t):
        if t.id not in hn: hn[t.id]={'nch':0,'nv':0,'alloc':False,'addr':None,'buf':None}
        return hn[t.id]
    def is_view(t): return t.view_src is not None
    def allocate(t,buf):
        h=H(t)
        if t.external or h['alloc'] or is_view(t): return
        h['alloc']=True
        if t.op in INPLACE_OPS:
            for p in t.src:
                if p is None: continue
                ph=H(p)
                # ggml: `if (!ggml_gallocr_is_own(galloc, parent)) continue;` -- is_own() is the parent's own
                # 'allocated' flag, which is never set for views, so in-place reuse through a view parent
                # (e.g. ROPE on a RESHAPE) never happens in practice.
                if not ph['alloc']: continue
                if p.external: continue
                if p.output or (p.view_src is not None and p.view_src.output): continue
                if not same_layout(t,p): continue
                if ph['nch']==1 and ph['nv']==0:
                    if is_view(p):
                        vs=p.view_src; vh=H(vs)
                        if vs.external: continue
                        if vh['nv']==1 and vh['nch']==0 and getattr(p,'view_offs',0)==0:
                            h['buf']=vh['buf']; h['addr']=vh['addr']; ph['alloc']=False; vh['alloc']=False
                            # free extra space
                            ex=vs.nbytes()-t.nbytes()
                            if ex>0: A[vh['buf']].free(vh['addr']+t.nbytes(),ex)
                            if trace: trace(f"inplace {t.name} <- {vs.name}")
                            return
                    else:
                        if not ph['alloc']: continue
                        h['buf']=ph['buf']; h['addr']=ph['addr']; ph['alloc']=False
                        ex=p.nbytes()-t.nbytes()
                        if ex>0: A[ph['buf']].free(ph['addr']+t.nbytes(),ex)
                        if trace: trace(f"inplace {t.name} <- {p.name}")
                        return
        h['buf']=buf; h['addr']=A[buf].alloc(t.nbytes())
        if trace: trace(f"alloc {t.name} buf{buf} @{h['addr']/2**20:.4f}MiB size {t.nbytes()/2**20:.4f} -> max {A[buf].max_size/2**20:.4f}")
    def free(t):
        if t.output: return
        h=H(t)
        A[h['buf']].free(h['addr'],t.nbytes()); h['alloc']=False
        if trace: trace(f"free {t.name} buf{h['buf']} @{h['addr']/2**20:.4f}")
    for l in leafs: allocate(l,l.buf)
    for n in nodes:
        if is_view(n) and n.op!="NONE": H(n.view_src)['nv']+=1
        if n.input: allocate(n,n.buf)
        for s in n.src:
            if s is None: continue
            H(s)['nch']+=1
            if s.input: allocate(s,n.buf)
    for n in nodes:
        for p in n.src:
            if p is None: continue
            allocate(p,n.buf)
        allocate(n,n.buf)
        for p in n.src:
            if p is None: continue
            ph=H(p); ph['nch']-=1
            if ph['nch']==0 and ph['nv']==0:
                if is_view(p):
                    vs=p.view_src; vh=H(vs); vh['nv']-=1
                    if vh['nv']==0 and vh['nch']==0 and vh['alloc']: free(vs)
                elif ph['alloc']: free(p)
    return [a.max_size for a in A]

def run(hp, n_ctx, n_ubatch=512, two_backends=True, **kw):
    g=build(hp, n_ubatch, n_ctx, **kw)
    nodes,leafs=schedule(g,two_backends)
    sizes=gallocr(nodes,leafs, aligns=(128,32) if two_backends else (32,))
    return len(g.nodes), [round(s/2**20,4) for s in sizes]
